"""Conference rooms in the database: who is in which room, and why a room ended.

The call server writes a member when its call joins (with FreeSWITCH's
member id, which the REST API needs to mute or kick it) and when it leaves;
the REST API reads them and asks the room's switch to act.  A room's
FreeSWITCH name is ours (:func:`~voxology_fs.flow.actions.conference.conference_room`),
never the customer's text.
"""

from __future__ import annotations

from . import db
from .models import Call, Conference, ConferenceMember
from .timeutil import utcnow


class RoomBook:
    """What flows tell the database about rooms (Services.rooms)."""

    def joined(self, account_id: str, name: str, room: str, call_id: str, member_id: str, muted: bool) -> None:
        with db.unit_of_work():
            switch = Call.select(Call.switch).where(Call.id == call_id).scalar() or ""
            # Members joining at once each try to create the room: one insert wins.
            Conference.insert(
                room=room, account=account_id, name=name, switch=switch, created_at=utcnow()
            ).on_conflict_ignore().execute()
            live = ConferenceMember.select().where(
                ConferenceMember.conference == room, ConferenceMember.left_at.is_null()
            )
            if not live.exists():
                # The first member in (again): a fresh start, on the switch it is on now.
                Conference.update(end_reason=None, switch=switch).where(Conference.room == room).execute()
            ConferenceMember.create(conference=room, call=call_id, member_id=member_id, muted=muted)

    def left(self, room: str, call_id: str, reason: str) -> None:
        with db.unit_of_work():
            ConferenceMember.update(left_at=utcnow(), left_reason=reason).where(
                ConferenceMember.conference == room,
                ConferenceMember.call == call_id,
                ConferenceMember.left_at.is_null(),
            ).execute()

    def end_reason(self, room: str) -> str | None:
        with db.database.connection_context():
            return Conference.select(Conference.end_reason).where(Conference.room == room).scalar()

    def ending(self, room: str, reason: str) -> None:
        """The room's members are about to be made to leave, for ``reason``."""
        with db.unit_of_work():
            Conference.update(end_reason=reason).where(Conference.room == room).execute()

    def has_members(self, room: str) -> bool:
        """Whether any member is still in the room (by the database)."""
        with db.database.connection_context():
            return (
                ConferenceMember.select()
                .where(ConferenceMember.conference == room, ConferenceMember.left_at.is_null())
                .exists()
            )
