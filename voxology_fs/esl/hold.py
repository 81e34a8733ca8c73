"""Holding on FreeSWITCH: hold audio on our call until another call takes it.

The hold audio is ``endless_playback``.  Another call takes ours with
``uuid_bridge`` (an agent's flow, from outside this socket): FreeSWITCH ends
the playback and bridges the two; ``park_after_bridge`` keeps our caller
when the agent hangs up, so our flow goes on.

Known limit: FreeSWITCH's ``endless_playback`` goes on playing after
``uuid_break`` (its loop continues on a break; recorded in
``tests/data/esl-transcripts/hold.*``), so ``stop()`` and a timeout end the
hold only on the fake switch.  The hold audio must become something a break
ends before QUEUE builds on this.
"""

from __future__ import annotations

import time

import gevent
import gevent.event

from ..capabilities import Holding, HoldOutcome
from ..channel import Prompt, Silence
from . import args as fsargs
from .capability import EslCapability
from .protocol import Event

# How long an ended hold audio waits for the bridge that ended it.
BRIDGE_GRACE_S = 5.0


class EslHolding(EslCapability[HoldOutcome], Holding):
    EVENTS = ("CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE")

    def __init__(self, channel, commands):
        super().__init__(channel, commands)
        self.bridged = gevent.event.Event()
        self.taken_by = ""
        self.taken_at: float | None = None
        self.audio_ended = False

    def start(self, prompts: list[Prompt]) -> None:
        self._begin()
        self._listen("CHANNEL_BRIDGE", self._on_bridge)
        self._listen("CHANNEL_UNBRIDGE", self._on_unbridge)
        self.channel._fire("multiset", "park_after_bridge=true hangup_after_bridge=false")
        self.channel._ensure_tts(prompts)
        self._run_app("endless_playback", fsargs.prompt_list(prompts or [Silence(1000)]))

    def _on_bridge(self, event: Event) -> None:
        other = event.get("Other-Leg-Unique-ID") or event.get("Bridge-B-Unique-ID") or ""
        self.taken_by = other if other != self.uuid else event.get("Bridge-A-Unique-ID", "")
        self.taken_at = time.monotonic()
        self.bridged.set()

    def _on_unbridge(self, event: Event) -> None:
        self._conclude("taken")

    def _on_completed(self, event: Event | None) -> None:
        # The hold audio ended: stopped by us, the caller gone, or taken.
        self.audio_ended = True
        if self.stop_reason and not self.bridged.is_set():
            self._conclude(self.stop_reason)
        elif not self.channel.is_up:
            self._conclude("taken" if self.bridged.is_set() else "hung_up")
        elif not self.bridged.is_set():
            gevent.spawn(self._await_bridge)

    def _await_bridge(self) -> None:
        if not self.bridged.wait(timeout=BRIDGE_GRACE_S):
            self._conclude("stopped")

    def _conclude(self, reason: str) -> None:
        if self.outcome is not None:
            return
        waited_until = self.taken_at or time.monotonic()
        talk = round(time.monotonic() - self.taken_at, 3) if self.taken_at else 0.0
        self.outcome = HoldOutcome(reason, self.taken_by, round(waited_until - self.started_at, 3), talk)
        self._finish()

    def _on_call_ended(self) -> None:
        self._conclude("taken" if self.bridged.is_set() else "hung_up")

    def _outcome_without_end(self) -> HoldOutcome:
        return HoldOutcome(self.stop_reason or "hung_up", self.taken_by, self.seconds())

    def stop(self, reason: str = "stopped") -> None:
        """Leave the hold: end the hold audio, or the bridge to whoever took us."""
        if self.finished.is_set():
            return
        self.stop_reason = reason
        if self.bridged.is_set():
            self._api(f"uuid_kill {self.taken_by} NORMAL_CLEARING")
        else:
            self.channel._break_media()
        self._await_stopped()
        if not self.finished.is_set():
            self._conclude(reason)
