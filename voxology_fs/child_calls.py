"""The records of calls a flow places for its caller (TRANSFER's dialled legs).

A child call is written once its leg has ended, whole: it never sits in a
pending status, so the watcher and the sweeps (which finish pending calls
and send their callbacks) leave it alone, and it has no callbacks of its
own.  Its times are the call server's (the leg's own events do not reach
this call's socket).
"""

from __future__ import annotations

import datetime as dt

from . import db
from .flow.state import CallState
from .models import Call, CallerId, Leg, PhoneNumber


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


def record_child_calls(parent: CallState, children: list[dict]) -> None:
    """Write each dialled leg as an outbound call whose parent is ``parent``."""
    with db.unit_of_work():
        switch = Call.select(Call.switch).where(Call.id == parent.call_id).scalar() or ""
        for child in children:
            started: dt.datetime = child["start_time"]
            ended: dt.datetime = child["end_time"]
            talk = dt.timedelta(seconds=child["talk_seconds"])
            answered = ended - talk if child["status"] == "completed" else None
            Call.create(
                id=child["id"],
                account=parent.account_id or None,
                switch=switch,
                channel_uuid=child["id"],
                direction="outbound",
                status=child["status"],
                caller_no=child["to_no"],
                api_no=child["from_no"],
                to_no=child["to_no"],
                start_time=started,
                answer_time=answered,
                end_time=ended,
                duration_ms=max(0, int((ended - started).total_seconds() * 1000)),
                hangup_cause=child["hangup_cause"],
                key_presses=[],
                recordings=[],
                errors=[],
                parent_call=parent.call_id,
            )
            Leg.create(
                call=child["id"],
                role="caller",
                direction="outbound",
                from_no=child["from_no"],
                to_no=child["to_no"],
                switch=switch,
                channel_uuid=child["id"],
                created_at=started,
                answered_at=answered,
                ended_at=ended,
                hangup_cause=child["hangup_cause"],
                sip_code=child["sip_code"],
            )
