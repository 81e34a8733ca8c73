"""Conference rooms in the database: who is in which room, and why a room ended.

The call server writes a member when its call joins (with FreeSWITCH's
member id, which the REST API needs to mute or kick it) and when it leaves;
the REST API reads them and asks the room's switch to act.  A room's
FreeSWITCH name is ours (:func:`~voxology_fs.flow.actions.conference.conference_room`),
never the customer's text.
"""

from __future__ import annotations

from . import claims, db
from .conference_events import ConferenceEvents
from .models import Call, Conference, ConferenceMember
from .timeutil import utcnow


class RoomBook:
    """What flows tell the database about rooms (Services.rooms), and the
    rooms' status events (:mod:`.conference_events`)."""

    def __init__(self, callbacks=None):
        self.events = ConferenceEvents(callbacks)

    def joined(
        self,
        account_id: str,
        name: str,
        room: str,
        call_id: str,
        member_id: str,
        muted: bool,
        status_url: str | None = None,
        coaching: str | None = None,
    ) -> None:
        with db.unit_of_work():
            switch = Call.select(Call.switch).where(Call.id == call_id).scalar() or ""
            # Members joining at once each try to create the room: one insert wins.
            Conference.insert(
                room=room, account=account_id, name=name, switch=switch, created_at=utcnow()
            ).on_conflict_ignore().execute()
            live = ConferenceMember.select().where(
                ConferenceMember.conference == room, ConferenceMember.left_at.is_null()
            )
            starting = not live.exists()
            if starting:
                # The first member in (again): a fresh start, on the switch it is on now.
                Conference.update(end_reason=None, switch=switch, status_url=status_url).where(
                    Conference.room == room
                ).execute()
            elif status_url:
                Conference.update(status_url=status_url).where(
                    Conference.room == room, Conference.status_url.is_null()
                ).execute()
            ConferenceMember.create(conference=room, call=call_id, member_id=member_id, muted=muted, coaching=coaching)
        if starting:
            self.events.tell(room, "start", call_id)
        self.events.tell(room, "join", call_id, muted=muted)

    def left(self, room: str, call_id: str, reason: str) -> None:
        with db.unit_of_work():
            ConferenceMember.update(left_at=utcnow(), left_reason=reason).where(
                ConferenceMember.conference == room,
                ConferenceMember.call == call_id,
                ConferenceMember.left_at.is_null(),
            ).execute()
        self.events.tell(room, "leave", call_id, reason=reason)

    def ended(self, room: str, room_uuid: str) -> None:
        """The last member left: the room is over (until someone joins again).
        Members leaving together may each see it empty: the end is told once
        per room instance (FreeSWITCH's Conference-Unique-ID)."""
        if room_uuid and not claims.claim(f"conference-end:{room_uuid}"):
            return
        self.events.tell(room, "end", None, reason=self.end_reason(room) or "last_member_left")

    def talking(self, room: str, call_id: str, talking: bool) -> None:
        self.events.tell(room, "speaker", call_id, talking=talking)

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

    def unheard(self, room: str, call_id: str) -> list[tuple[str, str]]:
        """The (speaker, listener) member-id pairs a member's arrival adds: a
        coach is heard by the call it coaches alone, so a coach arriving is
        not heard by the others, and a member arriving does not hear the
        coaches of others."""
        with db.database.connection_context():
            live = list(
                ConferenceMember.select().where(ConferenceMember.conference == room, ConferenceMember.left_at.is_null())
            )
        me = next((m for m in live if m.call_id == call_id), None)
        if me is None:
            return []
        pairs = []
        for other in live:
            if other is me:
                continue
            if me.coaching and other.call_id != me.coaching:
                pairs.append((me.member_id, other.member_id))
            if other.coaching and other.coaching != me.call_id:
                pairs.append((other.member_id, me.member_id))
        return pairs

    def coach(self, room: str, call_id: str, coaching: str | None) -> tuple[str, list[str], list[str]]:
        """Make a member coach ``coaching`` (or no one: None): (its member id,
        the others' member ids, those of them that must not hear it now)."""
        with db.unit_of_work():
            ConferenceMember.update(coaching=coaching).where(
                ConferenceMember.conference == room,
                ConferenceMember.call == call_id,
                ConferenceMember.left_at.is_null(),
            ).execute()
            live = list(
                ConferenceMember.select().where(ConferenceMember.conference == room, ConferenceMember.left_at.is_null())
            )
        me = next(m for m in live if m.call_id == call_id)
        others = [m for m in live if m is not me]
        unhearing = [m.member_id for m in others if coaching is not None and m.call_id != coaching]
        return me.member_id, [m.member_id for m in others], unhearing
