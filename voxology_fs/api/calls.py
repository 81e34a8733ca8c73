"""Make Call, the call records and their traces, and live call control.

Live control reaches a call wherever it runs: the call's record names its
switch, and the request goes to that switch as the event
:mod:`voxology_fs.control` defines, which the call's socket subscribed to.
"""

from __future__ import annotations

from typing import Literal, overload

from flask import Blueprint, g, request

from .. import child_calls, control, db
from ..call_status import LIVE_STATUSES, PENDING_STATUSES, STATUSES
from ..models import Call, CallerId, CallEvent, CallFlowConfig, Leg, PhoneNumber
from ..originate import place_call
from ..timeutil import iso
from .common import (
    account_id,
    call_json,
    integer,
    json_body,
    method_field,
    obj,
    owned,
    paged,
    phone_number,
    settings,
    string,
    switch_errors,
    switches,
    time_param,
    url_field,
)
from .errors import ApiError, bad_field, conflict, not_found

bp = Blueprint("calls", __name__)


@overload
def _session_data(body: dict, path: str = ..., *, required: Literal[True]) -> dict: ...
@overload
def _session_data(body: dict, path: str = ..., required: bool = False) -> dict | None: ...
def _session_data(body: dict, path: str = "session_data", required: bool = False) -> dict | None:
    data = obj(body, "session_data", path, required=required)
    return None if data is None else checked_control(control.check_session_data, data, path)


def checked_control(build, *args):
    """A live-control request from ``build``, or 400 naming the field it refused."""
    try:
        return build(*args)
    except control.ControlError as exc:
        raise bad_field(exc.field, exc.message) from None


# -- Make Call ------------------------------------------------------------------------
@bp.post("/Dials/Connect")
def make_call():
    body = json_body()
    call = obj(body, "call", "call", required=True)
    to_no = phone_number(call.get("no"), "call.no") if call.get("no") is not None else None
    if to_no is None:
        raise bad_field("call.no", "call.no is required")
    if call.get("caller_id_no") is None:
        raise bad_field("call.caller_id_no", "call.caller_id_no is required")
    caller_id_no = phone_number(call.get("caller_id_no"), "call.caller_id_no")
    session_data = _session_data(body)
    timeout = integer(body, "timeout", "timeout", 1, 600, default=60)
    max_call_time = integer(body, "max_call_time", "max_call_time", 1000, 24 * 3600 * 1000)
    record = _record_choice(body)
    detection = string(body, "detection", "detection", max_length=24)
    if detection not in (None, "detect", "detect_message_end"):
        raise bad_field("detection", "detection must be detect or detect_message_end")

    with db.database.connection_context():
        phone = PhoneNumber.get_or_none(PhoneNumber.number == caller_id_no, PhoneNumber.account == account_id())
        if phone is None:
            verified = CallerId.get_or_none(
                CallerId.account == account_id(),
                CallerId.number == caller_id_no,
                CallerId.verified == True,  # noqa: E712 (a peewee expression, not a truth test)
            )
            message = (
                "is a caller ID that has not been verified"
                if verified is None
                and CallerId.get_or_none(CallerId.account == account_id(), CallerId.number == caller_id_no)
                else "is not a number of this account nor a verified caller ID"
            )
            raise bad_field("call.caller_id_no", f"{caller_id_no} {message}")
        has_config = CallFlowConfig.get_or_none(CallFlowConfig.phone_number == caller_id_no) is not None
    if not has_config:
        raise bad_field(
            "call.caller_id_no",
            f"{caller_id_no} has no call flow configuration: PUT one first "
            f"at /v1/CallFlows/Configurations/PhoneNumbers/{{no}}",
        )
    over = child_calls.outbound_limit_problem(account_id(), 1, settings().max_outbound_calls_per_account)
    if over:
        raise ApiError(429, "too_many_calls", over)
    with switch_errors():
        placed = place_call(
            switches(),
            account_id=account_id(),
            application_id=g.application_id,
            to_no=to_no,
            caller_id_no=caller_id_no,
            session_data=session_data,
            timeout_s=timeout,
            max_call_time_ms=max_call_time,
            record=record,
            detect=detection,
        )
    return call_json(placed), 201


def _record_choice(body: dict) -> str | None:
    """Make Call's ``record``: false (default), true (both parties, one channel) or "dual"."""
    value = body.get("record", False)
    if value is False or value is None:
        return None
    if value is True:
        return "mono"
    if value == "dual":
        return "dual"
    raise bad_field("record", 'record must be true, false or "dual"')


# -- records ------------------------------------------------------------------------------
@bp.get("/Calls")
def list_calls():
    query = Call.select().where(Call.account == account_id())
    status = request.args.get("status")
    if status:
        wanted = [s.strip() for s in status.split(",") if s.strip()]
        unknown = [s for s in wanted if s not in STATUSES]
        if unknown or not wanted:
            raise bad_field("status", "status must be among " + ", ".join(STATUSES))
        query = query.where(Call.status.in_(wanted))
    direction = request.args.get("direction")
    if direction:
        if direction not in ("inbound", "outbound"):
            raise bad_field("direction", "direction must be inbound or outbound")
        query = query.where(Call.direction == direction)
    number = request.args.get("number")
    if number:
        no = phone_number(number, "number")
        query = query.where((Call.caller_no == no) | (Call.api_no == no) | (Call.to_no == no))
    since, until = time_param("start_time_from"), time_param("start_time_to")
    if since:
        query = query.where(Call.start_time >= since)
    if until:
        query = query.where(Call.start_time < until)
    return paged("calls", query, [Call.start_time.desc(), Call.id], call_json)


def owned_call(call_id: str) -> Call:
    if len(call_id) > 64:
        raise not_found("no such call", "call_id")
    return owned(Call, Call.id == call_id, "no such call", "call_id")


def leg_json(leg: Leg) -> dict:
    return {
        "leg_id": leg.id,
        "role": leg.role,
        "direction": leg.direction,
        "from_no": leg.from_no,
        "to_no": leg.to_no,
        "created_at": iso(leg.created_at),
        "ringing_at": iso(leg.ringing_at),
        "answered_at": iso(leg.answered_at),
        "bridged_to": leg.bridged_to,
        "bridged_at": iso(leg.bridged_at),
        "ended_at": iso(leg.ended_at),
        "hangup_cause": leg.hangup_cause,
        "sip_code": leg.sip_code,
    }


@bp.get("/Calls/<call_id>")
def get_call(call_id):
    call = owned_call(call_id)
    doc = call_json(call)
    with db.database.connection_context():
        legs = list(Leg.select().where(Leg.call == call.id).order_by(Leg.created_at, Leg.id))
        # Parent and children only within the account, like every call record.
        parent = None
        if call.parent_call_id:
            parent = Call.get_or_none(Call.id == call.parent_call_id, Call.account == account_id())
        children = [
            c.id
            for c in Call.select(Call.id)
            .where(Call.parent_call == call.id, Call.account == account_id())
            .order_by(Call.start_time, Call.id)
        ]
    doc["legs"] = [leg_json(leg) for leg in legs]
    doc["parent_call_id"] = parent.id if parent is not None else None
    doc["child_calls"] = children
    return doc


@bp.get("/Calls/<call_id>/Events")
@bp.get("/History/Logs/Calls/<call_id>")
def call_events(call_id):
    call = owned_call(call_id)
    query = CallEvent.select().where(CallEvent.call == call.id)
    doc = paged(
        "events", query, [CallEvent.id], lambda e: {"id": e.id, "at": iso(e.at), "kind": e.kind, "data": e.data}
    )
    doc["call_id"] = call.id
    return doc


# -- live control ----------------------------------------------------------------------
def send_control(call: Call, request: dict) -> dict:
    headers, body = control.encode(call.id, request)
    with switch_errors():
        switches().link(call.switch).sendevent("CUSTOM", headers, body=body)
    return {"call_id": call.id, "command": request["command"], "status": "sent"}


def _unended_call(call_id: str) -> Call:
    call = owned_call(call_id)
    if call.end_time is not None or call.status not in LIVE_STATUSES:
        raise conflict(f"the call has ended ({call.status})", "call_id")
    return call


def live_call(call_id: str) -> Call:
    """The account's call, answered and not ended: one that live control reaches."""
    call = _unended_call(call_id)
    if call.status in PENDING_STATUSES:
        raise conflict("the call has not been answered yet", "call_id")
    return call


@bp.post("/Calls/<call_id>/Hangup")
def hangup(call_id):
    json_body(required=False)
    call = _unended_call(call_id)
    if call.status in PENDING_STATUSES:
        # Not answered yet: cancel the dialling; the watcher ends the record.
        with switch_errors():
            reply = switches().link(call.switch).api(f"uuid_kill {call.id} ORIGINATOR_CANCEL")
        if not reply.startswith("+OK"):
            raise conflict("the call is not ringing yet; try again", "call_id")
        return {"call_id": call.id, "command": control.HANGUP, "status": "sent"}, 202
    return send_control(call, control.hangup()), 202


@bp.post("/Calls/<call_id>/Redirect")
def redirect(call_id):
    body = json_body()
    url = url_field(body, "url", required=True)
    method = method_field(body, "method", "POST")
    content_type = string(body, "content_type", "content_type", max_length=64)
    request = checked_control(control.redirect, url, method, content_type)
    return send_control(live_call(call_id), request), 202


@bp.post("/Calls/<call_id>/Actions")
def run_actions(call_id):
    body = json_body()
    request = checked_control(control.actions, body.get("actions"))
    return send_control(live_call(call_id), request), 202


@bp.post("/Calls/<call_id>/SessionData")
def inject_session_data(call_id):
    body = json_body()
    data = _session_data(body, required=True)
    call = _unended_call(call_id)
    if call.status in PENDING_STATUSES:
        # Not answered yet: the call server reads the record when it answers.
        with db.unit_of_work():
            fresh = Call.get(Call.id == call.id)
            merged = dict(fresh.session_data or {})
            merged.update(data)
            changed = (
                Call.update(session_data=merged).where(Call.id == call.id, Call.status.in_(PENDING_STATUSES)).execute()
            )
        if changed:
            return {"call_id": call.id, "command": control.SESSION_DATA, "status": "stored"}, 202
    return send_control(call, control.session_data(data)), 202
