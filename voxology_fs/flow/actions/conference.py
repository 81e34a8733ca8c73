"""Conferencing: CONFERENCE puts the caller in one of the account's rooms.

Rooms are per account: two accounts' ``myConference`` are different rooms,
whose FreeSWITCH names are ours (:func:`conference_room`).  The flow waits in
the room; when the caller leaves it (kicked, the room ended, an
``end_on_exit`` member left) the flow goes on, with why in ``$conference``
and in the next callback (``conference_end_reason``).
"""

from __future__ import annotations

import hashlib

from ...capabilities import BEEPS, LEAVE_KEYS
from ..errors import ActionFailed
from .base import Action, Param, check_url_param, http_url_problem, register

# Why the members of a room had to leave it, when not by their own doing
# (kept on the room, read by each member's flow).
ENDED_BY_API = "ended_by_api"
END_ON_EXIT = "end_on_exit"
# The capability's reasons as conference_end_reason says them.
END_REASONS = {"ended": "ended", "hung_up": "hung_up", "full": "full", "left": "left", "kicked": "kicked"}


def conference_room(account_id: str, name: str) -> str:
    """The room of an account's conference ``name``: ours, never the caller's text.

    The account prefix keeps accounts apart (and readable in ``conference
    list``); the hash makes any name, however written, one safe token.
    """
    prefix = "".join(c for c in (account_id or "default") if c.isalnum())[:8] or "default"
    digest = hashlib.sha256(f"{account_id}\x00{name}".encode()).hexdigest()[:20]
    return f"{prefix}-{digest}"


@register
class Conference(Action):
    """Place the caller into a conference; the flow goes on when they leave it.

    Rooms are per account: two accounts' ``myConference`` are different rooms.
    """

    type = "CONFERENCE"
    needs_media = True
    params_spec = (
        Param("name", required=True, doc="the room's name, per account"),
        Param("muted", kind="boolean", default=False, doc="the caller joins muted (hears, is not heard)"),
        Param(
            "start_on_enter",
            kind="boolean",
            default=True,
            doc="the room starts when the caller joins; false: the caller waits with hold audio until a "
            "member who starts it joins",
        ),
        Param(
            "end_on_exit",
            kind="boolean",
            default=False,
            doc="when the caller leaves, every other member leaves too (and their flows go on)",
        ),
        Param(
            "beep",
            kind="choice",
            default="true",
            choices=BEEPS,
            doc="whether the room hears a tone as the caller enters and leaves (on_enter, on_exit: only then)",
        ),
        Param(
            "leave_key",
            choices=LEAVE_KEYS,
            template=False,
            doc="a key (0-9, * or #) the caller presses to leave the room; the flow goes on "
            "(conference_end_reason left)",
        ),
        Param(
            "status_url",
            doc="the room's status events (start, end, join, leave, mute, hold, speaker) go here as "
            "conference_status requests; the first joining member's status_url is the room's",
        ),
        Param(
            "coach",
            doc="a call id (of the account) this member coaches: it hears everyone and only that call hears it",
        ),
        Param(
            "record",
            kind="boolean",
            default=False,
            doc="record the room (all members, mixed) from when the caller joins until its last member "
            "leaves; once per room however many members ask. Its id is in $conference.recording_id",
        ),
        Param(
            "recording_status_url",
            doc="requested when the room's recording is ready (the room ended), as RECORD's is",
        ),
        Param(
            "max_participants",
            kind="integer",
            default=250,
            minimum=2,
            maximum=250,
            doc="the most members the room takes, set by the member who opens it; over it the caller "
            "does not join and the flow goes on (conference_end_reason full)",
        ),
    )

    def check(self, problems, parser):
        check_url_param(self, problems, "recording_status_url")
        check_url_param(self, problems, "status_url")

    def run(self, ctx):
        name = self.render(ctx, "name")
        account, call_id = ctx.state.account_id, ctx.state.call_id
        room = conference_room(account, name)
        muted = bool(self.params["muted"])
        flags = {"mute"} if muted else set()
        recording_url = self.render(ctx, "recording_status_url") if self.params["record"] else None
        if recording_url and (error := http_url_problem(recording_url)):
            raise ActionFailed(f"{error}, got {recording_url!r}", f"{self.path}/params/recording_status_url")
        events_url = self.render(ctx, "status_url")
        if events_url and (error := http_url_problem(events_url)):
            raise ActionFailed(f"{error}, got {events_url!r}", f"{self.path}/params/status_url")
        coaching = self._coached(ctx)
        if self.params["start_on_enter"]:
            flags.add("moderator")
        ctx.trace("conference", {"name": name, "room": room})
        rooms = ctx.services.rooms
        conferencing = ctx.channel.conferencing()
        conferencing.on_talking = lambda talking: rooms.talking(room, call_id, talking)
        member = ctx.start(
            conferencing,
            room,
            flags=frozenset(flags),
            wait_for_moderator=True,
            max_members=self.params["max_participants"],
            beep=self.params["beep"],
            leave_key=self.params["leave_key"] or "",
        )
        member_id = member.wait_joined(timeout=10)
        recording_id = None
        reason = "stopped"
        try:
            if member_id:
                rooms.joined(account, name, room, call_id, member_id, muted, events_url, coaching)
                # A coach is heard by its call alone; coaches of others are not heard here.
                member.relate(rooms.unheard(room, call_id))
                if self.params["record"]:
                    recording_id = self._record_room(ctx, member, name, room, recording_url)
            outcome = member.wait()
            reason = outcome.reason
        finally:
            if member_id:
                rooms.left(room, call_id, reason)
                # The last member out ends the room: its status event, and its
                # recording completed (the switch closed the file).
                if not rooms.has_members(room):
                    rooms.ended(room, member.room_uuid)
                    ctx.services.recordings.close_room(room)
        if reason == "kicked":
            # Kicked with everyone else: the room was ended, by the API or an end_on_exit member.
            reason = rooms.end_reason(room) or "kicked"
        if self.params["end_on_exit"] and member_id and reason not in (ENDED_BY_API, END_ON_EXIT, "ended"):
            rooms.ending(room, END_ON_EXIT)
            member.end_room()
        end_reason = END_REASONS.get(reason, reason)
        ctx.state.conference = {
            "name": name,
            "end_reason": end_reason,
            "seconds": int(outcome.seconds),
            "recording_id": recording_id,
        }
        ctx.trace("conference_left", {"room": room, "reason": end_reason, "seconds": outcome.seconds})

    def _record_room(self, ctx, member, name: str, room: str, status_url: str | None) -> str | None:
        """Start the room's recording unless a member already did; its id either way."""
        recordings = ctx.services.recordings
        started = recordings.begin_room(
            account_id=ctx.state.account_id,
            call_id=ctx.state.call_id,
            room=room,
            room_uuid=member.room_uuid,
            name=name,
            status_url=status_url,
        )
        if started is None:
            return recordings.room_recording(room)
        if not member.record_room(started.path):
            recordings.fail(started.id, "the switch did not record the room")
            return None
        ctx.trace("record_conference", {"id": started.id, "room": room})
        return started.id

    def _coached(self, ctx) -> str | None:
        """The call this member coaches: one of the account's, never another's."""
        coach = self.render(ctx, "coach")
        if not coach:
            return None
        if not ctx.services.call_of_account(ctx.state.account_id, coach):
            raise ActionFailed(f"coach must be a call id of this account, got {coach!r}", f"{self.path}/params/coach")
        return coach
