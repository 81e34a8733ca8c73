"""What a call can do besides playing and collecting: the capability interfaces.

:class:`~voxology_fs.channel.Channel` is the media interface.  Anything with a
lifetime of its own (a second leg ringing then bridged, a conference
membership, a caller on hold, a recording, a beep detector) is a capability
object got from the channel (``channel.bridging()``...), with the same three verbs:

* ``start(...)`` begins it and returns at once;
* ``wait(timeout)`` blocks until it ends and returns its typed outcome; when
  ``timeout`` (seconds) passes first, the capability is stopped with reason
  ``"timeout"``.  A live-control request arriving meanwhile raises
  :class:`~voxology_fs.channel.ControlInterrupt` with the capability still
  running: the interpreter then calls ``stop``;
* ``stop(reason)`` ends it the way that fits it (hang up the dialled leg,
  kick our member...) and waits briefly for it to end.

A capability runs applications on its own call's channel, and acts on other
channels or on rooms through a :class:`CommandSender`, so that sender can be
pointed at another ESL link without touching the capability.
"""

from __future__ import annotations

import abc
import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from .channel import Prompt


class CommandSender(Protocol):
    """Runs a switch API command (``uuid_kill ...``, ``conference ... kick ...``) and returns its text."""

    def api(self, command: str) -> str: ...


class Capability(abc.ABC):
    """The verbs every capability has; ``start``'s arguments are each one's own."""

    kind: str = ""

    @abc.abstractmethod
    def wait(self, timeout: float | None = None): ...

    @abc.abstractmethod
    def stop(self, reason: str = "stopped") -> None: ...

    @property
    @abc.abstractmethod
    def running(self) -> bool: ...


# -- bridging: dial another leg, bridge it to our caller ----------------------------
BRIDGE_STATUSES = ("completed", "busy", "no_answer", "failed", "canceled", "rejected")


@dataclass(frozen=True)
class LegEnd:
    """A dialled leg's own end: how (a BRIDGE_STATUSES status; completed: it
    answered), its cause and SIP code, and the switch's times."""

    status: str
    cause: str
    sip_code: int | None = None
    answered_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None


@dataclass
class BridgeOutcome:
    status: str  # one of BRIDGE_STATUSES
    cause: str = ""  # FreeSWITCH's cause: the dial's failure, or the bridged leg's hangup
    sip_code: int | None = None
    other_uuid: str = ""  # the leg that answered
    talk_seconds: float = 0.0
    stopped: str = ""  # the stop() reason, when we ended it
    # How each dialled leg ended, by its uuid, as far as the switch told.
    legs: dict[str, LegEnd] = dataclasses.field(default_factory=dict)


class Bridging(Capability):
    kind = "bridge"
    # Told the uuid of the leg bridged to our caller, once it is (set before start).
    on_bridged: Callable[[str], None] | None = None

    @abc.abstractmethod
    def start(
        self,
        targets: list[str],
        *,
        ring_timeout_s: int = 30,
        caller_id: str | None = None,
        simultaneous: bool = False,
        time_limit_ms: int | None = None,
        leg_ids: list[str] | None = None,
        ringback: Prompt | None = None,
        send_digits: str = "",
        hangup_on_star: bool = False,
        screen_s: int = 0,
    ) -> None:
        """Ring ``targets`` (dial strings built by the caller) one after the
        other, or all at once (``simultaneous``: the first to answer wins),
        until one answers within ``ring_timeout_s``; bridge it, for at most
        ``time_limit_ms``.  ``leg_ids`` become the dialled channels' uuids.  A
        failed dial never hangs our caller up.  Meanwhile our caller hears
        ``ringback`` (None: the far end's early media); ``send_digits`` are
        sent to the party that answers; with ``hangup_on_star`` our caller's
        ``*`` ends the talk.  With ``screen_s``, a leg that answers is bridged
        only once the whisper flow dialled back for it accepts, within
        ``screen_s`` seconds."""

    @abc.abstractmethod
    def join(self, other_uuid: str) -> None:
        """Bridge our call to another call's channel that waits for it (a
        DIAL's ``connect``: the call that placed ours, holding); the bridge
        ends when either hangs up."""

    @abc.abstractmethod
    def target_for(self, destination: str) -> str:
        """The dial string that reaches an E.164 number (the switch's trunk)
        or a checked ``sip:`` URI (the switch's SIP profile)."""

    @abc.abstractmethod
    def wait(self, timeout: float | None = None) -> BridgeOutcome: ...


# -- dialing: a new call of its own, placed from this one (DIAL) ---------------------
DIAL_WAITS = ("", "answered", "ended")


@dataclass
class DialOutcome:
    # "queued" (not waited for), "answered", "completed" (answered, then
    # ended), or how the dial failed: one of BRIDGE_STATUSES.
    status: str
    cause: str = ""
    sip_code: int | None = None
    connected: bool = False  # it joined our caller (connect)
    talk_seconds: float = 0.0  # answered (or, connected, joined) until it ended
    stopped: str = ""


class Dialing(Capability):
    kind = "dial"

    @abc.abstractmethod
    def start(
        self,
        call_id: str,
        number: str,
        *,
        caller_id: str,
        ring_timeout_s: int = 30,
        wait_for: str = "",
        connect_prompts: list[Prompt] | None = None,
    ) -> None:
        """Place the call ``call_id`` (its record written) to an E.164 number;
        answered, it runs its own flow.  ``wait_for`` (DIAL_WAITS) says when
        :meth:`wait` returns: at once, once it answered, once it ended.
        ``connect_prompts`` (hold audio) makes our caller wait with them for
        the new call to join it, and until the two have finished talking."""

    @abc.abstractmethod
    def wait(self, timeout: float | None = None) -> DialOutcome: ...


# -- conferencing: our caller as a member of a room ----------------------------------
CONFERENCE_FLAGS = frozenset({"mute", "deaf", "moderator", "endconf", "mintwo", "nomoh", "ghost"})
BEEPS = ("true", "false", "on_enter", "on_exit")
LEAVE_KEYS = tuple("0123456789*#")


@dataclass
class ConferenceOutcome:
    reason: str  # "kicked", "ended", "left" (the room's leave key), "full", "hung_up", "stopped", "timeout"
    room: str = ""
    member_id: str = ""
    seconds: float = 0.0


class Conferencing(Capability):
    kind = "conference"

    @abc.abstractmethod
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
        """Join ``room`` (a name of ours, never a caller's text) with member
        flags.  A room created with ``wait_for_moderator`` keeps its members
        waiting (hold audio) until a ``moderator`` member joins; one created
        with ``max_members`` takes no more (0: no limit).  ``beep`` (one of
        BEEPS) says whether the room hears a tone as this member enters and
        leaves; ``leave_key`` (one of LEAVE_KEYS), pressed, takes the member
        out of the room (outcome ``left``)."""

    @abc.abstractmethod
    def wait_joined(self, timeout: float) -> str:
        """The member's id in its room once it joined; "" if it did not (the room was full, the call ended)."""

    @abc.abstractmethod
    def end_room(self) -> None:
        """Make every member still in the room leave it (their calls go on)."""

    def relate(self, pairs) -> None:
        """(speaker, listener) member-id pairs of the room: the listener does not hear the speaker."""
        raise NotImplementedError("this room cannot relate members")

    @abc.abstractmethod
    def record_room(self, path: str) -> bool:
        """Record the room's mix into ``path`` (ours) until the room ends;
        False if the switch refused. ``room_uuid`` names this room instance."""

    # The switch's id of the room instance the member joined ("" until known).
    room_uuid: str = ""
    # Told True or False as the member starts or stops talking (set before start).
    on_talking: Callable[[bool], None] | None = None

    @abc.abstractmethod
    def wait(self, timeout: float | None = None) -> ConferenceOutcome: ...


# -- holding: waiting with hold audio until another call takes this one ---------------
@dataclass
class HoldOutcome:
    reason: str  # "taken", "timeout", "stopped", "hung_up"
    taken_by: str = ""  # the uuid of the call that took ours
    waited_seconds: float = 0.0
    talk_seconds: float = 0.0


class Holding(Capability):
    kind = "hold"

    @abc.abstractmethod
    def start(self, prompts: list[Prompt]) -> None:
        """Play ``prompts`` over and over until another call bridges to ours
        (``uuid_bridge`` from outside) or the hold is stopped."""

    @abc.abstractmethod
    def bridge_to(self, other_uuid: str) -> bool:
        """Bridge our held call to another channel (itself holding, an agent's);
        the hold then ends as if that call had taken ours.  False if the switch refused."""

    @abc.abstractmethod
    def wait_taken(self, timeout: float) -> bool:
        """Whether another call took ours (bridged) within ``timeout`` seconds."""

    @abc.abstractmethod
    def wait(self, timeout: float | None = None) -> HoldOutcome: ...


# -- recording: a recording of the call running in the background ---------------------
@dataclass
class RecordingOutcome:
    path: str
    reason: str  # "stopped", "hung_up", "timeout"
    paused_seconds: float = 0.0
    seconds: float = 0.0


class Recording(Capability):
    kind = "record"

    @abc.abstractmethod
    def start(self, path: str, *, stereo: bool = False, bridged_only: bool = False) -> None:
        """Record the call to ``path`` (a path the call server chose): both
        parties mixed, or one per channel (``stereo``); ``bridged_only``: only
        while the call is bridged to another leg."""

    @abc.abstractmethod
    def pause(self) -> None: ...

    @abc.abstractmethod
    def resume(self) -> None: ...

    @abc.abstractmethod
    def wait(self, timeout: float | None = None) -> RecordingOutcome: ...


# -- detecting: a detector listening to the call (answering-machine beeps) --------------
@dataclass
class DetectOutcome:
    reason: str  # "detected", "timeout", "stopped", "hung_up"
    frequency: float | None = None  # Hz, of the beep heard
    seconds: float = 0.0


class Detecting(Capability):
    kind = "detect"

    @abc.abstractmethod
    def start(self) -> None:
        """Start listening for a beep (the flow may go on meanwhile)."""

    @abc.abstractmethod
    def wait(self, timeout: float | None = None) -> DetectOutcome: ...
