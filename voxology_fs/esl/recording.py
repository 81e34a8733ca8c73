"""Recording on FreeSWITCH: ``record_session`` in the background of our call.

``record_session`` returns at once and records while the flow goes on; the
recording ends with ``stop_record_session`` or the call (``RECORD_STOP``).
Pausing masks the recording (silence is written, so times still line up).
"""

from __future__ import annotations

import time

from ..capabilities import Recording, RecordingOutcome
from ..channel import CallEnded
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

    def start(self, path: str) -> None:
        if not fsargs.safe_token(path) or not path.startswith("/") or ".." in path:
            raise ValueError(f"not a recording path of ours: {path!r}")
        self.path = path
        self._begin()
        self._listen("RECORD_STOP", self._on_record_stop)
        self.channel._fire("record_session", path)

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
