"""Queues in the database: callers waiting in order, and agents taking them.

A queue is ours, not mod_fifo's (which would own the waiting caller's
channel, so no wait flow could run and no flow could go on after the
agent).  Nothing polls: a waiting caller holds on its own socket; an agent's
TRANSFER to ``queue:NAME`` takes the first caller with a conditional update
(the claim: two agents taking the front at once get two callers) and tells
its call, which bridges itself to the agent.
"""

from __future__ import annotations

from . import db
from .models import QueueMember
from .timeutil import utcnow


class QueueBook:
    """What flows tell the database about queues (Services.queues)."""

    def size(self, account_id: str, name: str) -> int:
        with db.database.connection_context():
            return self._waiting(account_id, name).count()

    def join(self, account_id: str, name: str, call_id: str, channel_uuid: str) -> int:
        with db.unit_of_work():
            member = QueueMember.create(account=account_id, name=name, call=call_id, channel_uuid=channel_uuid)
        return member.id

    def leave(self, member_id: int, result: str) -> None:
        with db.unit_of_work():
            QueueMember.update(left_at=utcnow(), result=result).where(
                QueueMember.id == member_id, QueueMember.left_at.is_null()
            ).execute()

    def release(self, member_id: int) -> None:
        """A taken caller whose agent went away waits again, in its place."""
        with db.unit_of_work():
            QueueMember.update(taken_at=None, taken_by=None).where(
                QueueMember.id == member_id, QueueMember.left_at.is_null()
            ).execute()

    def take(self, account_id: str, name: str, agent_call_id: str) -> tuple[str, str] | None:
        """Claim the first waiting caller: its (call id, channel uuid), or None when none waits."""
        for _ in range(20):  # each lost race moves on to the next caller
            with db.unit_of_work():
                head = self._waiting(account_id, name).order_by(QueueMember.id).first()
                if head is None:
                    return None
                won = (
                    QueueMember.update(taken_at=utcnow(), taken_by=agent_call_id)
                    .where(QueueMember.id == head.id, QueueMember.taken_at.is_null(), QueueMember.left_at.is_null())
                    .execute()
                )
            if won == 1:
                return head.call_id, head.channel_uuid
        return None

    def standing(self, account_id: str, name: str, member_id: int) -> tuple[int, int, int]:
        """(the member's position from 1, callers waiting, their average wait in s), as it is now."""
        with db.database.connection_context():
            waiting = list(self._waiting(account_id, name).select(QueueMember.id, QueueMember.joined_at))
        now = utcnow()
        position = sum(1 for m in waiting if m.id <= member_id)
        average = sum((now - m.joined_at).total_seconds() for m in waiting) / len(waiting) if waiting else 0.0
        return position, len(waiting), int(average)

    @staticmethod
    def _waiting(account_id: str, name: str):
        return QueueMember.select().where(
            QueueMember.account == account_id,
            QueueMember.name == name,
            QueueMember.taken_at.is_null(),
            QueueMember.left_at.is_null(),
        )
