"""What flows use besides their channel: callbacks, audio, persistence, rooms.

One :class:`Services` per call-server process (or simulator run); its
defaults do nothing, so a flow can run where nothing is stored.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ..callbacks import CallbackSender
from ..detection.settings import DetectorSettings
from .state import CallState

if TYPE_CHECKING:
    from .whisper import WhisperJob


class AudioSource(Protocol):
    """Where a flow's audio URLs become local files (audio.AudioCache)."""

    def fetch(self, url: str) -> str: ...


class Rooms(Protocol):
    """Where a flow records its caller's time in conference rooms (conferences.RoomBook)."""

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
    ) -> None: ...

    def unheard(self, room: str, call_id: str) -> list[tuple[str, str]]: ...

    def left(self, room: str, call_id: str, reason: str) -> None: ...

    def end_reason(self, room: str) -> str | None: ...

    def ending(self, room: str, reason: str) -> None: ...

    def has_members(self, room: str) -> bool: ...

    def ended(self, room: str, room_uuid: str) -> None: ...

    def talking(self, room: str, call_id: str, talking: bool) -> None: ...


class NoRooms:
    """Rooms nobody else sees (the simulator)."""

    def joined(self, account_id, name, room, call_id, member_id, muted, status_url=None, coaching=None) -> None:
        pass

    def unheard(self, room, call_id) -> list[tuple[str, str]]:
        return []

    def left(self, room, call_id, reason) -> None:
        pass

    def end_reason(self, room) -> str | None:
        return None

    def ending(self, room, reason) -> None:
        pass

    def has_members(self, room) -> bool:
        return False

    def ended(self, room, room_uuid) -> None:
        pass

    def talking(self, room, call_id, talking) -> None:
        pass


class Queues(Protocol):
    """Where callers wait in order and agents take them (queues.QueueBook)."""

    def size(self, account_id: str, name: str) -> int: ...

    def join(self, account_id: str, name: str, call_id: str, channel_uuid: str) -> int: ...

    def leave(self, member_id: int, result: str) -> None: ...

    def take(self, account_id: str, name: str, agent_call_id: str) -> tuple[str, str] | None: ...

    def release(self, member_id: int) -> None: ...

    def standing(self, account_id: str, name: str, member_id: int) -> tuple[int, int, int]: ...


class NoQueues:
    """A queue nobody else can take from (the simulator)."""

    def size(self, account_id, name) -> int:
        return 0

    def join(self, account_id, name, call_id, channel_uuid) -> int:
        return 0

    def leave(self, member_id, result) -> None:
        pass

    def take(self, account_id, name, agent_call_id):
        return None

    def release(self, member_id) -> None:
        pass

    def standing(self, account_id, name, member_id) -> tuple[int, int, int]:
        return 1, 1, 0


@dataclass(frozen=True)
class StartedRecording:
    id: str
    path: str  # where the switch writes it


class Recordings(Protocol):
    """Where recordings are kept: their records and files (recordings.RecordingBook)."""

    silence_threshold: int

    def begin(
        self,
        *,
        account_id: str,
        call_id: str,
        name: str = "",
        fmt: str = "wav",
        source: str = "record",
        channels: int = 1,
        status_url: str | None = None,
        status_method: str | None = None,
    ) -> StartedRecording: ...

    def finish(
        self, recording_id: str, *, ended_by: str, finish_key: str = "", duration_ms: int | None = None, trim=False
    ) -> dict: ...

    def fail(self, recording_id: str, error: str) -> dict: ...

    def begin_room(
        self, *, account_id: str, call_id: str, room: str, room_uuid: str, name: str, status_url: str | None = None
    ) -> StartedRecording | None: ...

    def close_room(self, room: str) -> int: ...

    def room_recording(self, room: str) -> str | None: ...

    def listening_path(self, call_id: str) -> str: ...


class NoRecordings:
    """Recordings kept nowhere (the simulator): each is listed, with no file or URL."""

    silence_threshold = 200

    def __init__(self):
        self._names: dict[str, str] = {}

    def begin(self, *, account_id, call_id, name="", **_) -> StartedRecording:
        recording_id = str(uuid.uuid4())
        self._names[recording_id] = name
        return StartedRecording(recording_id, f"/dev/null/{recording_id}")

    def finish(self, recording_id, *, ended_by, finish_key="", duration_ms=None, trim=False) -> dict:
        return self._entry(recording_id, "completed", duration_ms, ended_by, finish_key or None)

    def fail(self, recording_id, error) -> dict:
        return self._entry(recording_id, "failed", None, None, None)

    def listening_path(self, call_id) -> str:
        return f"/dev/null/{uuid.uuid4()}"

    def begin_room(self, *, account_id, call_id, room, room_uuid, name, status_url=None) -> StartedRecording | None:
        return self.begin(account_id=account_id, call_id=call_id, name=name)

    def close_room(self, room) -> int:
        return 0

    def room_recording(self, room) -> str | None:
        return None

    def _entry(self, recording_id, status, duration, ended_by, key) -> dict:
        name = self._names.get(recording_id, "")
        return {
            "name": name,
            "id": recording_id,
            "status": status,
            "duration": duration,
            "url": None,
            "ended_by": ended_by,
            "finish_key": key,
        }


class Messages(Protocol):
    """Where text messages are kept (messages.MessageBook)."""

    def refusal(self, account_id: str, from_no: str, to_no: str, text: str) -> tuple[str, str] | None: ...

    def queue(self, *, account_id, from_no, to_no, text, call_id=None, status_url=None, switch="") -> str: ...

    def send(self, message_id: str, from_no: str, to_no: str, text: str, via_switch, wait: bool = True) -> None: ...


class NoMessages:
    """Messages kept nowhere (the simulator): each is allowed and gets an id."""

    def refusal(self, account_id, from_no, to_no, text):
        return None

    def queue(self, **_) -> str:
        return str(uuid.uuid4())

    def send(self, message_id, from_no, to_no, text, via_switch, wait=True) -> None:
        via_switch(message_id, from_no, to_no, text)


@dataclass
class Services:
    """What flows use besides the channel; one set per call-server process."""

    callbacks: CallbackSender
    audio: AudioSource
    # Persist progress and the final record; no-ops for the simulator.
    save_progress: Callable[[CallState], None] = lambda state: None
    finish_call: Callable[[CallState], bool] = lambda state: True
    trace: Callable[[str, str, dict | None], None] = lambda call_id, kind, data: None
    # Whether an account may show this number as its caller ID (its own or verified).
    caller_id_allowed: Callable[[str, str], bool] = lambda account_id, number: True
    # Whether a call id is one of the account's calls.
    call_of_account: Callable[[str, str], bool] = lambda account_id, call_id: True
    # The records of a TRANSFER's dialled legs, child calls of this one.
    record_child_calls: Callable[[CallState, list[dict]], None] = lambda state, children: None
    # ... written as they start ringing, and the one bridged to the caller.
    open_child_calls: Callable[[CallState, list[dict]], None] = lambda state, children: None
    child_answered: Callable[[str, dt.datetime], None] = lambda child_id, at: None
    # DIAL: write a new call's record (raises CallRefused); returns its id.
    prepare_dial: Callable[..., str] | None = None
    # Why an account may not place this many more calls now, or None.
    outbound_limit: Callable[[str, int], str | None] = lambda account_id, adding: None
    rooms: Rooms = dataclasses.field(default_factory=NoRooms)
    queues: Queues = dataclasses.field(default_factory=NoQueues)
    recordings: Recordings = dataclasses.field(default_factory=NoRecordings)
    messages: Messages = dataclasses.field(default_factory=NoMessages)
    # TRANSFER's screenings this process dialled, by leg id (a leg dials back to this process).
    whispers: dict[str, WhisperJob] = dataclasses.field(default_factory=dict)
    # Hosts a TRANSFER may dial by sip: URI.
    sip_transfer_domains: frozenset[str] = frozenset()
    # The detector's thresholds below DETECT's params (the operator's settings).
    detector_settings: DetectorSettings = dataclasses.field(default_factory=DetectorSettings)
    # The channel uuid of a live call (the one a DIAL's call joins), or None.
    channel_of: Callable[[str], str | None] = lambda call_id: None
    max_callbacks: int = 100
    max_steps: int = 10000
    apology_text: str = "We are sorry, an application error has occurred. Goodbye."
