"""Queues: who waits, in order, and taking a caller out of its queue.

A queue is found by name within the caller's account only; another
account's queue of the same name is another queue, and unknown here (404).
Taking a member claims it as an agent's TRANSFER does (the same
conditional update: a caller is never taken twice), then live control
takes the call out of its QUEUE (``queue_result`` leave) and runs what the
request gave it: a flow URL, or a TRANSFER to a number.
"""

from __future__ import annotations

from collections import defaultdict

from flask import Blueprint

from .. import control, db
from ..flow.actions.connect import E164
from ..models import Call, QueueMember
from ..timeutil import iso, utcnow
from .calls import checked_control, send_control
from .common import account_id, json_body, method_field, string, url_field
from .errors import bad_field, conflict, not_found

bp = Blueprint("queues", __name__)
FRONT = "front"


def _waiting(name: str | None = None):
    """The account's callers still waiting (not taken, not gone), first first."""
    query = QueueMember.select().where(
        QueueMember.account == account_id(), QueueMember.taken_at.is_null(), QueueMember.left_at.is_null()
    )
    if name is not None:
        query = query.where(QueueMember.name == name)
    return query.order_by(QueueMember.id)


def _seconds_since(when) -> int:
    return max(0, int((utcnow() - when).total_seconds()))


@bp.get("/Queues")
def list_queues():
    """The account's queues with callers waiting: size, average and longest wait (s)."""
    with db.database.connection_context():
        waits: dict[str, list[int]] = defaultdict(list)
        for member in _waiting():
            waits[member.name].append(_seconds_since(member.joined_at))
    queues = [
        {"name": name, "size": len(w), "average_wait": sum(w) // len(w), "longest_wait": max(w)}
        for name, w in sorted(waits.items())
    ]
    return {"queues": queues}


@bp.get("/Queues/<name>/Members")
def list_members(name):
    with db.database.connection_context():
        known = QueueMember.select().where(QueueMember.account == account_id(), QueueMember.name == name).exists()
        if not known:
            raise not_found(f"no queue {name!r}")
        members = [
            {
                "position": position,
                "call_id": member.call_id,
                "joined_at": iso(member.joined_at),
                "wait_time": _seconds_since(member.joined_at),
            }
            for position, member in enumerate(_waiting(name), start=1)
        ]
    return {"name": name, "size": len(members), "members": members}


def _what_to_run(body: dict) -> dict:
    """The live-control request for a taken caller: redirect to ``url``, or TRANSFER to ``to``."""
    unknown = sorted(set(body) - {"url", "method", "to"})
    if unknown:
        raise bad_field(unknown[0], f"unknown field {unknown[0]!r}")
    if ("url" in body) == ("to" in body):
        raise bad_field("url", "give url (a flow for the caller) or to (a number to connect it to), not both")
    if "url" in body:
        url = url_field(body, "url", required=True)
        return checked_control(control.redirect, url, method_field(body, "method", "POST"))
    to = string(body, "to", "to", required=True, max_length=16)
    if not E164.match(to):
        raise bad_field("to", f"to must be an E.164 number such as +13125550100, got {to!r}")
    return checked_control(control.actions, [{"type": "TRANSFER", "params": {"to": to}}])


def _claim(name: str, member: str) -> QueueMember:
    """Take the member (its call id, or ``front``) so no agent takes it too; 404 or 409 when it cannot be."""
    with db.unit_of_work():
        waiting = _waiting(name)
        found = waiting.first() if member == FRONT else waiting.where(QueueMember.call == member).first()
        if found is None:
            raise not_found(f"no caller {member!r} waits in queue {name!r}", "call_id")
        taken = (
            QueueMember.update(taken_at=utcnow(), taken_by=None)
            .where(QueueMember.id == found.id, QueueMember.taken_at.is_null(), QueueMember.left_at.is_null())
            .execute()
        )
    if taken != 1:
        raise conflict("an agent took that caller first", "call_id")
    return found


@bp.post("/Queues/<name>/Members/<member>")
def take_member(name, member):
    request = _what_to_run(json_body())
    claimed = _claim(name, member)
    with db.database.connection_context():
        call = Call.get_by_id(claimed.call_id)
    try:
        sent = send_control(call, request)
    except Exception:
        # Not delivered: the caller still waits, so it goes back to its place.
        with db.unit_of_work():
            QueueMember.update(taken_at=None).where(QueueMember.id == claimed.id).execute()
        raise
    return {"name": name, **sent}, 202
