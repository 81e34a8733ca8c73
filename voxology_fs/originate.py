"""Placing calls (Make Call) and ending those that never reach a socket.

The ending is done by the switch watchers (:mod:`voxology_fs.watcher`) and
sweeps (:mod:`voxology_fs.sweeps`), or here when the switch refuses the
originate outright.

A call's record is written first, with the switch chosen, then the switch
is asked to dial with ``bgapi originate`` (never the blocking ``api``): the
REST request returns the call id at once.  The channel's uuid *is* the call
id, and the channel carries it in ``vox_call_id`` too, with
``vox_make_call=true``, which is how the call server recognises the call when
it reaches its socket.

Nothing a REST client sends reaches FreeSWITCH as text: the two numbers are
checked as E.164 (``+`` and digits only), the ring timeout is an integer, the
ids are ours; session data stays in the database.
"""

from __future__ import annotations

import logging

from . import db, store
from .call_status import PENDING_STATUSES, status_for_cause
from .callbacks import CallbackClient, CallbackError
from .esl import dial
from .flow.state import CallState
from .models import Call, CallEvent, Leg
from .settings import Settings, Switch
from .switch_errors import SwitchUnavailable
from .timeutil import utcnow

log = logging.getLogger(__name__)


def socket_address(settings: Settings, switch: Switch) -> str:
    return switch.socket_address or f"{settings.outbound_host}:{settings.outbound_port}"


def originate_command(
    settings: Settings,
    switch: Switch,
    call_id: str,
    to_no: str,
    caller_id_no: str,
    timeout_s: int,
    record: str | None = None,
    detect: str | None = None,
) -> str:
    """The ``originate`` arguments for one call; every value in it is checked by the builder."""
    return dial.call_originate(
        switch.dial_string, socket_address(settings, switch), call_id, to_no, caller_id_no, timeout_s, record, detect
    )


def place_call(
    switches,
    *,
    account_id: str,
    application_id: str | None,
    to_no: str,
    caller_id_no: str,
    session_data: dict | None,
    timeout_s: int,
    max_call_time_ms: int | None,
    record: str | None = None,
    detect: str | None = None,
) -> Call:
    """Write the call's record, then originate it (recorded from the answer when
    ``record`` is mono or dual; after answering-machine detection when ``detect``
    names its mode); raises SwitchUnavailable."""
    link = switches.pick()
    call = write_placed_call(
        switch_name=link.name,
        account_id=account_id,
        application_id=application_id,
        to_no=to_no,
        caller_id_no=caller_id_no,
        session_data=session_data,
        timeout_s=timeout_s,
        max_call_time_ms=max_call_time_ms,
    )
    call_id = call.id
    command = originate_command(switches.settings, link.switch, call_id, to_no, caller_id_no, timeout_s, record, detect)
    try:
        link.bgapi(command, job_uuid=call_id)
    except Exception as exc:
        log.warning("call %s: originate on %s failed: %s", call_id, link.name, exc)
        finish_unconnected(
            call_id,
            "NORMAL_TEMPORARY_FAILURE",
            False,
            switches.callbacks,
            error={"code": "originate_failed", "message": str(exc)},
        )
        raise SwitchUnavailable(f"switch {link.name} did not take the call: {exc}") from None
    return call


def write_placed_call(
    *,
    switch_name: str,
    account_id: str,
    application_id: str | None,
    to_no: str,
    caller_id_no: str,
    session_data: dict | None,
    timeout_s: int,
    max_call_time_ms: int | None,
    parent_call_id: str | None = None,
    flow_url: str | None = None,
    flow_method: str | None = None,
    connect_to: str | None = None,
) -> Call:
    """The record of a call we are about to originate, its caller leg and
    its first trace line, written together (its id is the channel's uuid)."""
    call_id = Call._meta.fields["id"].default()
    now = utcnow()
    with db.unit_of_work():
        call = Call.create(
            id=call_id,
            account=account_id,
            application=application_id,
            switch=switch_name,
            channel_uuid=call_id,
            direction="outbound",
            status="queued",
            caller_no=to_no,
            api_no=caller_id_no,
            to_no=to_no,
            start_time=now,
            session_data=session_data,
            key_presses=[],
            recordings=[],
            errors=[],
            timeout_s=timeout_s,
            max_call_time_ms=max_call_time_ms,
            parent_call=parent_call_id,
            flow_url=flow_url,
            flow_method=flow_method,
            connect_to=connect_to,
        )
        Leg.create(
            call=call_id,
            role="caller",
            direction="outbound",
            from_no=caller_id_no,
            to_no=to_no,
            switch=switch_name,
            channel_uuid=call_id,
            created_at=now,
        )
        CallEvent.create(
            call=call_id,
            at=now,
            kind="originate",
            data={"switch": switch_name, "to": to_no, "from": caller_id_no, "timeout": timeout_s},
        )
    return call


def finish_unconnected(
    call_id: str, cause: str, answered: bool, callbacks: CallbackClient, error: dict | None = None
) -> bool:
    """End a call that no call server took; True if this process finished it.

    Only the process whose conditional update wins sends ``call_ended``.
    """
    call = store.load_call(call_id)
    if call is None or call.end_time is not None or call.status not in PENDING_STATUSES or call.transfer_leg:
        return False  # (a TRANSFER's leg is its parent's to finish)
    return _finish_from_record(call, status_for_cause(cause, answered), cause, callbacks, error)


def finish_orphaned(call_id: str, cause: str, callbacks: CallbackClient) -> bool:
    """End a live call whose channel is gone and whose call server never finished it.

    That call server died (or lost its database) mid-call: the call was up,
    so it ends ``completed``, with the loss on its record.
    """
    call = store.load_call(call_id)
    if call is None or call.end_time is not None or call.status != "live-in-progress" or call.transfer_leg:
        return False
    error = {
        "code": "call_server_lost",
        "message": "the call server running this call stopped; the switch watcher ended the call",
    }
    return _finish_from_record(call, "completed", cause, callbacks, error)


def _finish_from_record(call: Call, status: str, cause: str, callbacks: CallbackClient, error: dict | None) -> bool:
    # The switch's own times where its hangup event gave them to the leg.
    with db.database.connection_context():
        leg = Leg.get_or_none(Leg.call == call.id, Leg.role == "caller")
    state = CallState(
        call_id=call.id,
        direction=call.direction,
        caller_no=call.to_no or call.caller_no,
        api_no=call.api_no,
        app_id=call.application_id or "",
        account_id=call.account_id or "",
        status=status,
        start_time=call.start_time,
        answer_time=call.answer_time or (leg.answered_at if leg else None),
        end_time=(leg.ended_at if leg else None) or utcnow(),
        hangup_cause=cause,
        session_data=call.session_data,
        custom_data=call.custom_data,
        key_presses=list(call.key_presses or []),
        recordings=list(call.recordings or []),
        errors=list(call.errors or []),
        sip_domain=call.sip_domain,
        sip_forwarded_for=call.sip_forwarded_for,
    )
    if error:
        state.add_error(error)
    route = store.route_for_placed(call)
    if route is not None:
        state.subaccount_id = route.subaccount_id
    if not store.finish_call(state):
        return False
    _trace(call.id, "ended", {"status": state.status, "hangup_cause": cause})
    if route is None:
        return True
    target = route.target
    try:
        callbacks.send(target, state.callback_fields("call_ended"))
        _trace(call.id, "callback", {"type": "call_ended", "url": target.url, "ok": True})
    except CallbackError as exc:
        _trace(call.id, "callback", {"type": "call_ended", "url": target.url, "ok": False, "error": exc.code})
    return True


def _trace(call_id: str, kind: str, data: dict) -> None:
    try:
        with db.unit_of_work():
            CallEvent.create(call=call_id, at=utcnow(), kind=kind, data=data)
    except Exception:
        log.exception("call %s: trace not written", call_id)
