"""A conference room's status events, sent to its ``status_url``.

Events: ``start`` (the room's first member is in), ``end`` (its last one
left), ``join``, ``leave``, ``mute``, ``hold``, ``announcement`` (from the
REST API) and
``speaker`` (a member started or stopped talking, from mod_conference's
``start-talking``/``stop-talking``).  The room's status URL is the first
joining member's ``status_url`` (Twilio's rule: the first participant's);
each request is a JSON POST of ``type: "conference_status"``, sent without
waiting for the answer, and a failing URL changes nothing in the room.
"""

from __future__ import annotations

from . import db
from .callbacks import CallbackTarget
from .models import Conference, ConferenceMember
from .timeutil import iso, utcnow

EVENTS = ("start", "end", "join", "leave", "mute", "hold", "speaker", "announcement")


class ConferenceEvents:
    def __init__(self, callbacks=None):
        # A CallbackSender; None: events go nowhere (the simulator, tests of the room alone).
        self.callbacks = callbacks

    def tell(self, room: str, event: str, call_id: str | None = None, **fields) -> None:
        if self.callbacks is None:
            return
        with db.database.connection_context():
            conference = Conference.get_or_none(Conference.room == room)
            if conference is None or not conference.status_url:
                return
            count = (
                ConferenceMember.select()
                .where(ConferenceMember.conference == room, ConferenceMember.left_at.is_null())
                .count()
            )
        body = {
            "type": "conference_status",
            "event": event,
            "conference_name": conference.name,
            "call_id": call_id,
            "member_count": count,
            "timestamp": iso(utcnow()),
            **fields,
        }
        self.callbacks.fire_and_forget(CallbackTarget(conference.status_url), body)
