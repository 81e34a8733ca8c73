"""Recording on FreeSWITCH: ``record_session`` in the background of our call, and RECORD.

``record_session`` returns at once and records while the flow goes on; the
recording ends with ``stop_record_session`` or the call (``RECORD_STOP``).
Pausing masks the recording (silence is written, so times still line up).
"""

from __future__ import annotations

import time

import gevent

from ..capabilities import Recording, RecordingOutcome
from ..channel import RECORD_BEEP, CallEnded, RecordResult
from . import args as fsargs
from .capability import EslCapability
from .protocol import Event


class EslRecording(EslCapability[RecordingOutcome], Recording):
    EVENTS = ("RECORD_STOP",)

    def __init__(self, channel, commands):
        super().__init__(channel, commands)
        self.path = ""
        self.paused_at: float | None = None
        self.paused_total = 0.0

    def start(self, path: str, *, stereo: bool = False, bridged_only: bool = False) -> None:
        check_path(path)
        self.path = path
        self._begin()
        self._listen("RECORD_STOP", self._on_record_stop)
        # record_session's own variables, for this recording only (not the channel's).
        options = [name for name, wanted in (("RECORD_STEREO", stereo), ("RECORD_BRIDGE_REQ", bridged_only)) if wanted]
        arg = path + (" {" + ",".join(f"{name}=true" for name in options) + "}" if options else "")
        self.channel._fire("record_session", arg)

    def _on_record_stop(self, event: Event) -> None:
        if event.get("Record-File-Path") == self.path:
            self._conclude(self.stop_reason or ("hung_up" if not self.channel.is_up else "stopped"))

    def _conclude(self, reason: str) -> None:
        if self.outcome is not None:
            return
        if self.paused_at is not None:
            self.paused_total += time.monotonic() - self.paused_at
            self.paused_at = None
        self.outcome = RecordingOutcome(self.path, reason, round(self.paused_total, 3), self.seconds())
        self._finish()

    def pause(self) -> None:
        if self.running and self.paused_at is None:
            self.channel._fire("record_session_mask", self.path)
            self.paused_at = time.monotonic()

    def resume(self) -> None:
        if self.running and self.paused_at is not None:
            self.channel._fire("record_session_unmask", self.path)
            self.paused_total += time.monotonic() - self.paused_at
            self.paused_at = None

    def _on_call_ended(self) -> None:
        self._conclude("hung_up")

    def _outcome_without_end(self) -> RecordingOutcome:
        return RecordingOutcome(self.path, self.stop_reason or "hung_up", round(self.paused_total, 3), self.seconds())

    def stop(self, reason: str = "stopped") -> None:
        if self.finished.is_set():
            return
        self.stop_reason = reason
        if self.channel.is_up:
            try:
                self.channel._fire("stop_record_session", self.path)
            except CallEnded:  # the switch stops it with the call
                pass
        self._await_stopped()
        self._conclude(reason)


# After a hangup the switch still closes the file and completes ``record``.
CLOSE_WAIT_S = 3.0


def record_message(
    channel, path: str, *, max_seconds: int, silence_seconds: int, silence_threshold: int, finish_keys: str, beep: bool
) -> RecordResult:
    """RECORD: the ``record`` application in the foreground of the call.

    Its limit and silence count in whole seconds (the switch's units); its
    finish keys are ``playback_terminators`` for its time only (our calls
    keep ``none`` so that keys never cut a PLAY).
    """
    check_path(path)
    arg = f"{path} {int(max_seconds)}"
    if silence_seconds > 0:
        arg += f" {int(silence_threshold)} {int(silence_seconds)}"
    try:
        # Keys pressed before the RECORD are not meant for it.
        channel._fire("flush_dtmf")
        channel._fire("set", _terminators_arg(finish_keys))
        if beep:
            channel._fire("playback", fsargs.prompt_list([RECORD_BEEP]))
        done = channel._fire("record", arg)
    except CallEnded:
        return RecordResult("hangup")
    gevent.wait([done, channel.session.hungup, channel._control_arrived], count=1, timeout=max_seconds + 60)
    if not done.ready() and channel.is_up and channel._control_arrived.is_set():
        channel._break_media()  # live control: the file is kept, the request runs next
        done.wait(timeout=5)
    if not done.ready():
        done.wait(timeout=CLOSE_WAIT_S)
    if channel.is_up:
        try:
            channel._fire("set", _terminators_arg(""))
        except CallEnded:
            pass
    if not done.ready() or not done.successful():
        return RecordResult("hangup")
    event = done.value
    key = event.variable("playback_terminator_used") or ""
    try:
        measured = int(event.variable("record_ms") or "")
    except ValueError:
        measured = None
    if not channel.is_up:
        ended_by = "hangup"
    elif key:
        ended_by = "key"
    elif event.variable("silence_hits_exhausted") == "true":
        ended_by = "silence"
    elif channel._control_arrived.is_set():
        ended_by = "stopped"
    else:
        ended_by = "max_length"
    return RecordResult(ended_by, key, measured)


def _terminators_arg(keys: str) -> str:
    # Keys only (set_arg's plain names have no # or *): nothing here can expand.
    if keys not in ("", "any") and not all(k in fsargs.DTMF_KEYS for k in keys):
        raise ValueError(f"not finish keys: {keys!r}")
    return f"playback_terminators={keys or 'none'}"


def check_path(path: str) -> None:
    # Ours (the store's): absolute, one word of plain characters, nothing to expand.
    plain = all(c.isascii() and (c.isalnum() or c in "_-./") for c in path)
    if not plain or not path.startswith("/") or ".." in path or len(path) > 1024:
        raise ValueError(f"not a recording path of ours: {path!r}")
