"""The records of calls a flow places: TRANSFER's dialled legs, DIAL's calls.

A DIAL's call is a full call (:func:`prepare_dial`): its record is written
before the switch dials, like Make Call's, and from then on it lives as
they do (the watcher ends it if it never answers, a call server runs its
flow).  Limits hold for both kinds: how many calls an account has placed
and not yet ended, and how deep a chain of DIALs goes.

A TRANSFER's leg is written as it starts ringing (``ringing``, then
``live-in-progress`` once bridged), marked ``transfer_leg``: the TRANSFER's
call server writes its end, so the watcher and the sweeps (which finish
pending calls and send their callbacks) leave it alone, and it has no
callbacks of its own.  Its answer and end times are the switch's where the
leg's own hangup reached the caller's socket, else the call server's.
"""

from __future__ import annotations

import datetime as dt

from peewee import fn

from . import db, store
from .call_status import LIVE_STATUSES
from .flow.errors import CallRefused
from .flow.state import CallState
from .models import Call, CallerId, Leg, PhoneNumber
from .originate import write_placed_call


def caller_id_allowed(account_id: str, number: str) -> bool:
    """One of the account's numbers, or a caller ID it verified."""
    with db.database.connection_context():
        if PhoneNumber.get_or_none(PhoneNumber.number == number, PhoneNumber.account == account_id) is not None:
            return True
        verified = CallerId.get_or_none(
            CallerId.account == account_id,
            CallerId.number == number,
            CallerId.verified == True,  # noqa: E712 (a peewee expression, not a truth test)
        )
        return verified is not None


def call_of_account(account_id: str, call_id: str) -> bool:
    """Whether ``call_id`` is a call of the account (a CONFERENCE's coach names one)."""
    if not call_id or len(call_id) > 36:
        return False
    with db.database.connection_context():
        return Call.select().where(Call.id == call_id, Call.account == account_id).exists()


def open_child_calls(parent: CallState, children: list[dict]) -> None:
    """Write each leg a TRANSFER is about to dial as a ringing child call of ``parent``
    (``id``, ``to_no``, ``from_no``, ``start_time``), so it is seen while it rings."""
    with db.unit_of_work():
        switch = Call.select(Call.switch).where(Call.id == parent.call_id).scalar() or ""
        for child in children:
            Call.create(
                id=child["id"],
                account=parent.account_id or None,
                switch=switch,
                channel_uuid=child["id"],
                direction="outbound",
                status="ringing",
                caller_no=child["to_no"],
                api_no=child["from_no"],
                to_no=child["to_no"],
                start_time=child["start_time"],
                key_presses=[],
                recordings=[],
                errors=[],
                parent_call=parent.call_id,
                transfer_leg=True,
            )
            Leg.create(
                call=child["id"],
                role="caller",
                direction="outbound",
                from_no=child["from_no"],
                to_no=child["to_no"],
                switch=switch,
                channel_uuid=child["id"],
                created_at=child["start_time"],
            )


def child_answered(child_id: str, at: dt.datetime) -> None:
    """The leg that won was bridged to the caller: it is in progress."""
    with db.unit_of_work():
        Call.update(status="live-in-progress", answer_time=at).where(
            Call.id == child_id,
            Call.end_time.is_null(),
            Call.transfer_leg == True,  # noqa: E712
        ).execute()


def record_child_calls(parent: CallState, children: list[dict]) -> None:
    """Write each dialled leg's end, as the TRANSFER saw it (over what :func:`open_child_calls` wrote)."""
    with db.unit_of_work():
        for child in children:
            started: dt.datetime = child["start_time"]
            ended: dt.datetime = child["end_time"]
            talk = dt.timedelta(seconds=child["talk_seconds"])
            # The switch's answer time when its events gave one; else the talk counted back from the end.
            answered = child.get("answer_time") or (ended - talk if child["status"] == "completed" else None)
            Call.update(
                status=child["status"],
                answer_time=answered,
                end_time=ended,
                duration_ms=max(0, int((ended - started).total_seconds() * 1000)),
                hangup_cause=child["hangup_cause"],
            ).where(Call.id == child["id"], Call.parent_call == parent.call_id).execute()
            # What the watcher already put on the leg from the switch's own hangup stays.
            Leg.update(
                {
                    column: fn.COALESCE(column, value)
                    for column, value in (
                        (Leg.answered_at, Leg.answered_at.db_value(answered)),
                        (Leg.ended_at, Leg.ended_at.db_value(ended)),
                        (Leg.hangup_cause, child["hangup_cause"]),
                        (Leg.sip_code, child["sip_code"]),
                    )
                }
            ).where(Leg.call == child["id"], Leg.role == "caller").execute()


def close_transfer_legs(parent_call_id: str, at: dt.datetime) -> int:
    """A parent that ended without its call server (which died): its TRANSFER's
    legs still open end too, as they were (answered: completed; else canceled)."""
    with db.unit_of_work():
        done = 0
        for status, final in (("live-in-progress", "completed"), ("ringing", "canceled")):
            done += (
                Call.update(status=final, end_time=at)
                .where(
                    Call.parent_call == parent_call_id,
                    Call.transfer_leg == True,  # noqa: E712
                    Call.status == status,
                    Call.end_time.is_null(),
                )
                .execute()
            )
        return done


def outbound_limit_problem(account_id: str, adding: int, limit: int) -> str | None:
    """Why ``adding`` more calls would put the account over its limit of calls placed at once, or None.

    A soft limit: two flows checking at the same moment may both pass.
    """
    with db.database.connection_context():
        placed = (
            Call.select()
            .where(Call.account == account_id, Call.direction == "outbound", Call.status.in_(LIVE_STATUSES))
            .count()
        )
    if placed + adding > limit:
        return f"the account has {placed} calls placed and not ended; its limit is {limit}"
    return None


def dial_depth(call_id: str, deepest: int) -> int:
    """How many generations ``call_id`` is from a call nobody placed (1 for that one), counted up to ``deepest + 1``."""
    depth = 1
    with db.database.connection_context():
        while depth <= deepest:
            parent = Call.select(Call.parent_call).where(Call.id == call_id).scalar()
            if not parent:
                break
            call_id, depth = parent, depth + 1
    return depth


def prepare_dial(
    parent: CallState,
    *,
    to_no: str,
    caller_id_no: str,
    url: str | None,
    method: str,
    session_data: dict | None,
    timeout_s: int,
    max_call_time_ms: int | None,
    connect: bool,
    max_outbound: int,
    max_depth: int,
) -> str:
    """Write the record of the call a DIAL places from ``parent``; returns its id.

    Raises CallRefused when the account may not place it.
    """
    account = parent.account_id
    if url:
        application_id = parent.app_id or None
    else:
        route = store.route_for(caller_id_no)
        if route is None or route.account_id != account:
            raise CallRefused(f"{caller_id_no} has no call flow configuration: give the DIAL a url")
        application_id = route.application_id
    if dial_depth(parent.call_id, max_depth) >= max_depth:
        raise CallRefused(f"a chain of DIALs goes at most {max_depth} calls deep")
    problem = outbound_limit_problem(account, 1, max_outbound)
    if problem:
        raise CallRefused(problem)
    with db.database.connection_context():
        switch = Call.select(Call.switch).where(Call.id == parent.call_id).scalar() or ""
    call = write_placed_call(
        switch_name=switch,
        account_id=account,
        application_id=application_id,
        to_no=to_no,
        caller_id_no=caller_id_no,
        session_data=session_data,
        timeout_s=timeout_s,
        max_call_time_ms=max_call_time_ms,
        parent_call_id=parent.call_id,
        flow_url=url or None,
        flow_method=method if url else None,
        connect_to=parent.call_id if connect else None,
    )
    return call.id


def channel_of(call_id: str) -> str | None:
    """The channel of a call still up (answered, its flow running), or None."""
    with db.database.connection_context():
        return (
            Call.select(Call.channel_uuid)
            .where(Call.id == call_id, Call.status == "live-in-progress", Call.end_time.is_null())
            .scalar()
        )
