"""Detecting on FreeSWITCH: mod_avmd's beep detector on our call.

``avmd_start`` returns at once and the detector listens in the background;
it reports a beep with an ``avmd::beep`` event for our channel, and stops
with ``avmd_stop`` (or the call).
"""

from __future__ import annotations

import gevent

from ..capabilities import Detecting, DetectOutcome
from ..channel import CallEnded
from .capability import EslCapability
from .protocol import Event

BEEP_EVENT = "avmd::beep"


class EslDetecting(EslCapability[DetectOutcome], Detecting):
    EVENTS = (f"CUSTOM {BEEP_EVENT}",)

    def __init__(self, channel, commands):
        super().__init__(channel, commands)

    def start(self) -> None:
        self._begin()
        self._listen(BEEP_EVENT, self._on_beep)
        self.channel._fire("avmd_start")

    def _on_beep(self, event: Event) -> None:
        if event.get("Unique-ID") != self.uuid:
            return
        try:
            frequency = float(event.get("Frequency", ""))
        except ValueError:
            frequency = None
        self._conclude("detected", frequency)
        # One beep is all we listen for; not from this handler, which runs
        # in the socket's reader (the command's reply could not be read).
        gevent.spawn(self._switch_off)

    def _conclude(self, reason: str, frequency: float | None = None) -> None:
        if self.outcome is None:
            self.outcome = DetectOutcome(reason, frequency, self.seconds())
            self._finish()

    def _switch_off(self) -> None:
        if self.channel.is_up:
            try:
                self.channel._fire("avmd_stop")
            except CallEnded:
                pass

    def _on_call_ended(self) -> None:
        self._conclude("hung_up")

    def _outcome_without_end(self) -> DetectOutcome:
        return DetectOutcome(self.stop_reason or "hung_up", None, self.seconds())

    def stop(self, reason: str = "stopped") -> None:
        if self.finished.is_set():
            return
        self.stop_reason = reason
        self._switch_off()
        self._conclude(reason)
