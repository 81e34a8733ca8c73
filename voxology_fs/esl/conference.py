"""Conferencing on FreeSWITCH: the ``conference`` application on our call.

Why the member left comes from ``conference::maintenance`` events: our
member's ``kick-member``, or the room's ``conference-destroy`` (the room
ended); a member that left with neither left by its ``leave_key``.
"""

from __future__ import annotations

import gevent
import gevent.event

from ..capabilities import BEEPS, CONFERENCE_FLAGS, LEAVE_KEYS, ConferenceOutcome, Conferencing
from . import args as fsargs
from .capability import EslCapability
from .protocol import Event
from .recording import check_path

CONFERENCE_EVENTS = "conference::maintenance"
PROFILE = "default"
NO_BEEP = "silence_stream://1"
KEY_NAMES = {"*": "star", "#": "pound"}


def relate_commands(room: str, pairs, how: str) -> list[str]:
    """``conference ROOM relate SPEAKER LISTENER,... nospeak|clear`` commands for
    (speaker, listener) member-id pairs: one per speaker."""
    if how not in ("nospeak", "clear") or not safe_room(room):
        raise ValueError(f"relate {how!r} in {room!r}")
    listeners: dict[str, list[str]] = {}
    for speaker, listener in pairs:
        if not (str(speaker).isdigit() and str(listener).isdigit()):
            raise ValueError(f"not member ids: {speaker!r}, {listener!r}")
        listeners.setdefault(str(speaker), []).append(str(listener))
    return [f"conference {room} relate {s} {','.join(ls)} {how}" for s, ls in listeners.items()]


def safe_room(room: str) -> bool:
    return 0 < len(room) <= 96 and all(c.isascii() and (c.isalnum() or c in "-_.") for c in room)


class EslConferencing(EslCapability[ConferenceOutcome], Conferencing):
    EVENTS = (f"CUSTOM {CONFERENCE_EVENTS}",)

    def __init__(self, channel, commands):
        super().__init__(channel, commands)
        self.room = ""
        self.member_id = ""
        self.member_known = gevent.event.Event()
        self.kicked = False
        self.ended = False

    def start(
        self,
        room: str,
        *,
        flags: frozenset[str] = frozenset(),
        wait_for_moderator: bool = False,
        max_members: int = 0,
        beep: str = "true",
        leave_key: str = "",
    ) -> None:
        if beep not in BEEPS:
            raise ValueError(f"unknown beep {beep!r}")
        if leave_key and leave_key not in LEAVE_KEYS:
            raise ValueError(f"not a leave key: {leave_key!r}")
        if not safe_room(room):
            raise ValueError(f"unsafe conference room {room!r}")
        unknown = set(flags) - CONFERENCE_FLAGS
        if unknown:
            raise ValueError(f"unknown member flags {sorted(unknown)}")
        self.room = room
        # The room's own events (its end) carry no Unique-ID of ours.
        self._begin(filters={"Conference-Name": room})
        self._listen(CONFERENCE_EVENTS, self._on_event)
        # Read by mod_conference when this member creates the room; cleared
        # (an empty value unsets) so an earlier CONFERENCE's do not apply.
        room_settings = {
            "conference_flags": "wait-mod" if wait_for_moderator else "",
            "conference_max_members": str(int(max_members)) if max_members else "",
            # This member's own enter and exit sounds replace the profile's
            # tones (conference_member.c): silence stands for no beep.
            "conference_enter_sound": "" if beep in ("true", "on_enter") else NO_BEEP,
            "conference_exit_sound": "" if beep in ("true", "on_exit") else NO_BEEP,
            # A caller-controls group of our conference.conf.xml: the key's "hangup" action.
            "conference_controls": f"leave-{KEY_NAMES.get(leave_key, leave_key)}" if leave_key else "",
        }
        self.channel._fire("multiset", fsargs.multiset_arg(room_settings))
        arg = f"{room}@{PROFILE}" + (f"+flags{{{'|'.join(sorted(flags))}}}" if flags else "")
        self._run_app("conference", arg)

    def _on_event(self, event: Event) -> None:
        if event.get("Conference-Name") != self.room:
            return
        action = event.get("Action")
        if action == "conference-destroy":
            self.ended = True
        elif event.get("Unique-ID") == self.uuid:
            if action == "add-member":
                self.member_id = event.get("Member-ID", "")
                self.room_uuid = event.get("Conference-Unique-ID", "")
                self.member_known.set()
            elif action == "kick-member":
                self.kicked = True
            elif action in ("start-talking", "stop-talking") and self.on_talking is not None:
                # Spawned: this runs in the socket's reader.
                gevent.spawn(self.on_talking, action == "start-talking")

    def wait_joined(self, timeout: float) -> str:
        gevent.wait([self.member_known, self.finished, self.channel.session.hungup], count=1, timeout=timeout)
        return self.member_id

    def end_room(self) -> None:
        self._api(f"conference {self.room} kick all")

    def relate(self, pairs) -> None:
        for command in relate_commands(self.room, pairs, "nospeak"):
            self._api(command)

    def record_room(self, path: str) -> bool:
        check_path(path)
        # The room's own recorder: it stops, and closes the file, when the last member leaves.
        return self._api(f"conference {self.room} recording start {path}").startswith("+OK")

    def _on_completed(self, event: Event | None) -> None:
        joined = bool(self.member_id)
        if not self.member_id and event is not None:
            self.member_id = event.variable("conference_member_id") or ""
        if self.stop_reason:
            reason = self.stop_reason
        elif not self.channel.is_up:
            reason = "hung_up"
        elif self.kicked:
            reason = "kicked"
        elif self.ended:
            reason = "ended"
        elif not joined and not self.member_id:
            reason = "full"  # the room took no more members
        else:
            reason = "left"
        self.outcome = ConferenceOutcome(reason, self.room, self.member_id, self.seconds())
        self._finish()

    def _outcome_without_end(self) -> ConferenceOutcome:
        return ConferenceOutcome("hung_up", self.room, self.member_id, self.seconds())

    def stop(self, reason: str = "stopped") -> None:
        """Kick our member out of the room (the caller stays on the call)."""
        if self.finished.is_set():
            return
        self.stop_reason = reason
        self.member_known.wait(timeout=2)
        if self.member_id:
            self._api(f"conference {self.room} kick {self.member_id}")
        else:
            self.channel._break_media()
        self._await_stopped()
