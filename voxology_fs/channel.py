"""The interface between the call flow interpreter and a live call.

The interpreter speaks only to a :class:`Channel`.  The ESL session
(:mod:`voxology_fs.esl.channel`) implements it on FreeSWITCH; the simulator
(:mod:`voxology_fs.simulate`) implements it in a terminal.  A channel method
blocks the calling greenlet until its media finishes, and raises
:class:`CallEnded` when the call is gone, or :class:`ControlInterrupt` when a
live-control request (from the REST API) arrives while it waits.
"""

from __future__ import annotations

import abc
import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .capabilities import Bridging, Conferencing, Detecting, Dialing, Holding, Recording


class CallEnded(Exception):
    """The call hung up (either side); ``cause`` is FreeSWITCH's hangup cause."""

    def __init__(self, cause: str = "NORMAL_CLEARING"):
        super().__init__(cause)
        self.cause = cause


class ControlInterrupt(Exception):
    """A live-control request arrived while the call waited on media."""

    def __init__(self, request: dict):
        super().__init__(request.get("command", "?"))
        self.request = request


@dataclass(frozen=True)
class Speech:
    """Text spoken by the TTS engine."""

    text: str
    voice: str | None = None
    engine: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class AudioFile:
    """A local audio file (always one the call server wrote itself)."""

    path: str
    source: str = ""  # the URL it came from, for traces and the simulator


@dataclass(frozen=True)
class Silence:
    ms: int


@dataclass(frozen=True)
class Tone:
    """A tone of ours in FreeSWITCH's tone_stream syntax (ringing), never a caller's text."""

    spec: str


# One cycle of North American ringing: 2 s of 440+480 Hz, 4 s of silence.
RINGING = Tone("%(2000,4000,440,480)")
# The beep before a RECORD: 250 ms of 1 kHz.
RECORD_BEEP = Tone("%(250,0,1000)")
# A soft beep for callers on hold with nothing else to hear (400 ms of 440 Hz).
HOLD_TONE = Tone("%(400,0,440)")

Prompt = Speech | AudioFile | Silence | Tone


def is_plain_name(value: str) -> bool:
    """A name a channel takes as it is (a TTS engine or voice): letters, digits, ``_ - . : /`` only.

    Flows check their voice and engine names with this; anything else could
    carry syntax to the switch.
    """
    return bool(value) and len(value) <= 128 and all(c.isascii() and (c.isalnum() or c in "_-.:/") for c in value)


@dataclass
class CollectResult:
    digits: str = ""
    # The finish key that ended input, "" when num_digits or the timeout did.
    terminator: str = ""
    timed_out: bool = False


@dataclass
class RecordResult:
    """How a RECORD of the caller ended: key, silence, max_length or hangup."""

    ended_by: str
    finish_key: str = ""
    duration_ms: int | None = None  # the switch's count, where it gave one


@dataclass
class CallInfo:
    """What the switch tells us about a call when it reaches us."""

    uuid: str
    direction: str  # "inbound" or "outbound"
    caller: str  # the calling number as the switch saw it
    destination: str  # the called number as the switch saw it
    caller_name: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    sip_domain: str = ""
    sip_forwarded_for: str = ""
    answered: bool = False
    answered_at: dt.datetime | None = None  # by the switch's clock, when it says
    switch_name: str = ""  # the switch's own name for itself, where it says


class Channel(abc.ABC):
    """A live call, as the interpreter sees it."""

    info: CallInfo
    answered: bool = False

    @abc.abstractmethod
    def ring(self) -> None:
        """Let the caller hear ringing while we prepare (before answer)."""

    @abc.abstractmethod
    def answer(self) -> None: ...

    @property
    def answered_at(self) -> dt.datetime | None:
        """When the call was answered, as the switch tells it (None if it does not)."""
        return None

    @property
    def ended_at(self) -> dt.datetime | None:
        """When the call hung up, as the switch tells it (None if it does not)."""
        return None

    def ensure_answered(self) -> None:
        # The interpreter answers right before the first action that needs
        # media (``Action.needs_media``), so that REJECT can still refuse the
        # call with a SIP error.
        if not self.answered:
            self.answer()

    @abc.abstractmethod
    def reject(self, sip_code: int) -> None:
        """Refuse an unanswered call with a SIP response (486, 603, 404, 503...)."""

    @abc.abstractmethod
    def hangup(self, cause: str = "NORMAL_CLEARING") -> None: ...

    @abc.abstractmethod
    def play(self, prompts: list[Prompt], loops: int = 1) -> None:
        """Play prompts to the caller; keys pressed meanwhile do not stop them."""

    @abc.abstractmethod
    def collect(
        self,
        prompts: list[Prompt],
        *,
        max_digits: int,
        finish_keys: str,
        timeout_ms: int,
        digit_timeout_ms: int | None = None,
    ) -> CollectResult:
        """Play prompts and collect keys; the first key stops the prompts."""

    @abc.abstractmethod
    def pause(self, ms: int) -> None: ...

    def record(
        self, path: str, *, max_seconds: int, silence_seconds: int, silence_threshold: int, finish_keys: str, beep: bool
    ) -> RecordResult:
        """Record the caller into ``path`` (ours) until a finish key, silence, the
        limit or the hangup; returns normally when the caller hangs up."""
        raise NotImplementedError("this channel cannot record")

    def listen(self, path: str, max_seconds: int, consumer) -> None:
        """Hear the caller: their audio (8 kHz 16-bit mono PCM) goes to
        ``consumer(pcm)`` as it comes, until it returns True, ``max_seconds``
        pass or the call ends; ``path`` (ours) is where the switch spools it."""
        raise NotImplementedError("this channel cannot listen")

    @abc.abstractmethod
    def send_dtmf(self, digits: str) -> None:
        """Play DTMF tones to the caller."""

    def send_text(self, message_id: str, from_no: str, to_no: str, text: str) -> None:
        """Send a text message (ours, stored as ``message_id``) through this call's switch."""
        raise NotImplementedError("this channel cannot send texts")

    def tell_call(self, call_id: str, request: dict) -> None:
        """Send another call of ours a control request (an agent taking a queued caller)."""
        raise NotImplementedError("this channel cannot reach other calls")

    # -- capabilities (see voxology_fs.capabilities): a new object per use ------
    def bridging(self) -> Bridging:
        raise NotImplementedError("this channel cannot dial other legs")

    def dialing(self) -> Dialing:
        raise NotImplementedError("this channel cannot place calls")

    def conferencing(self) -> Conferencing:
        raise NotImplementedError("this channel has no conferences")

    def holding(self) -> Holding:
        raise NotImplementedError("this channel cannot hold")

    def recording(self) -> Recording:
        raise NotImplementedError("this channel cannot record")

    def detecting(self) -> Detecting:
        raise NotImplementedError("this channel has no detector")

    @property
    @abc.abstractmethod
    def is_up(self) -> bool:
        """False once the call has hung up."""

    # False for the simulator, whose media takes no time (flows that loop on
    # media, such as a QUEUE's wait flow, run once there).
    media_takes_time = True

    def poll_control(self) -> dict | None:
        """A pending live-control request, if any, without waiting."""
        return None

    def interrupt(self, request: dict) -> None:
        """Deliver a request of our own as an interrupting live-control one: what
        plays stops and the flow sees it (a QUEUE's wait flow reaching its timeout)."""
        raise NotImplementedError("this channel cannot be interrupted")

    def withdraw(self, request: dict) -> None:  # noqa: B027 - optional, as interrupt is
        """Take back a request given to :meth:`interrupt` if it is still pending."""

    def close(self) -> None:  # noqa: B027 - optional: most channels hold nothing to release
        """Release the channel once the flow is over."""
