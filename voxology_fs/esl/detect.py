"""Detecting on FreeSWITCH: mod_avmd's beep detector on our call, and DETECT's ear.

``avmd_start`` returns at once and the detector listens in the background;
it reports a beep with an ``avmd::beep`` event for our channel, and stops
with ``avmd_stop`` (or the call).
"""

from __future__ import annotations

import os

import gevent

from ..capabilities import Detecting, DetectOutcome
from ..channel import CallEnded
from . import args as fsargs
from .capability import EslCapability
from .protocol import Event
from .recording import check_path

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


# How often the spooled audio is read while the caller is heard.
LISTEN_POLL_S = 0.05
WAV_HEADER_BYTES = 44
LISTENING = {"enable_file_write_buffering": "false", "record_fill_cng": "1400"}


def listen_to_caller(channel, path: str, max_seconds: int, consumer) -> None:
    """DETECT's ear: the ``record`` application spools the caller's audio to
    ``path`` (ours, on a folder the switch and this process share) and the
    file is read as it grows, 16-bit PCM after its 44-byte header; when the
    consumer has heard enough the recording is broken off. The file is
    removed afterwards."""
    check_path(path)
    try:
        # Written as heard, not in 64 KB (4 s) pieces; and a caller's gap in
        # RTP (silence suppression) still counts as silence in the file.
        channel._fire("multiset", fsargs.multiset_arg(LISTENING))
        done = channel._fire("record", f"{path} {int(max_seconds)}")
    except CallEnded:
        return
    offset, pending = WAV_HEADER_BYTES, b""
    try:
        while True:
            finished = done.ready() or not channel.is_up
            try:
                with open(path, "rb") as fh:
                    fh.seek(offset)
                    chunk = fh.read()
            except FileNotFoundError:
                chunk = b""
            offset += len(chunk)
            pending += chunk
            whole = len(pending) - len(pending) % 2
            if whole and consumer(pending[:whole]):
                channel._break_media()
                done.wait(timeout=5)
                return
            pending = pending[whole:]
            if finished:
                return
            gevent.wait([done, channel.session.hungup], count=1, timeout=LISTEN_POLL_S)
    finally:
        if channel.is_up:
            try:
                channel._fire("multiset", fsargs.multiset_arg(dict.fromkeys(LISTENING, "")))
            except CallEnded:
                pass
        try:
            os.remove(path)
        except OSError:
            pass
