"""Holding on FreeSWITCH: hold audio on our call until another call takes it.

The hold audio is ``playback`` repeated by FreeSWITCH itself (``sendmsg``
with ``loops: -1``), not ``endless_playback``: that one plays on after
``uuid_break`` (its loop continues on a break), while a looped execute is a
broadcast, which ``uuid_break`` stops.  Another call takes ours with
``uuid_bridge`` (an agent's flow, from outside this socket): FreeSWITCH ends
the loop and bridges the two; ``park_after_bridge`` keeps our caller when the
agent hangs up, so our flow goes on.  Recorded in
``tests/data/esl-transcripts/hold.*`` and ``hold_stop.*``.

Every round completes with the same Application-UUID, so a completion alone
does not say whether the loop ended: ``current_loop`` is set while it runs.
FreeSWITCH also ends a loop after a round shorter than half a second, so
every round ends with a pause.
"""

from __future__ import annotations

import time

import gevent
import gevent.event

from ..capabilities import Holding, HoldOutcome
from ..channel import Prompt, Silence
from . import args as fsargs
from . import dial
from .capability import EslCapability
from .protocol import Event

# How long an ended hold audio waits for the bridge that ended it.
BRIDGE_GRACE_S = 5.0
# FreeSWITCH ends a loop whose round took under 500 ms: a pause after each
# round of hold audio, and a second of silence when there is none.
ROUND_PAUSE_MS = 500
SILENT_ROUND_MS = 1000


class EslHolding(EslCapability[HoldOutcome], Holding):
    EVENTS = ("CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE")

    def __init__(self, channel, commands):
        super().__init__(channel, commands)
        self.bridged = gevent.event.Event()
        self.taken_by = ""
        self.taken_at: float | None = None
        self.audio_ended = False
        self._loop_uuid = ""

    def start(self, prompts: list[Prompt]) -> None:
        # A uuid_bridge fires (UN)BRIDGE for its A side only: an agent taken
        # as the B side learns of it by Bridge-B-Unique-ID (hold.inbound.log).
        # It stays for the call (only bridges of ours match), so no delete
        # races the next command.
        self.channel.subscribe_more(self.EVENTS, standing=[("Bridge-B-Unique-ID", self.uuid)])
        self._begin()
        sides = ("Unique-ID", "Bridge-B-Unique-ID")
        self._listen("CHANNEL_BRIDGE", self._on_bridge, sides)
        self._listen("CHANNEL_UNBRIDGE", self._on_unbridge, sides)
        self.channel._fire("multiset", "park_after_bridge=true hangup_after_bridge=false")
        self.channel._ensure_tts(prompts)
        rounds: list[Prompt] = [*prompts, Silence(ROUND_PAUSE_MS)] if prompts else [Silence(SILENT_ROUND_MS)]
        self._loop_uuid = self.channel._fire_looped("playback", fsargs.prompt_list(rounds), self._on_round)

    def bridge_to(self, other_uuid: str) -> bool:
        # Our caller is the bridge's A side, as when the other call bridges from outside.
        return self._api(f"uuid_bridge {self.uuid} {dial.check_uuid(other_uuid)}").startswith("+OK")

    def wait_taken(self, timeout: float) -> bool:
        gevent.wait([self.bridged, self.finished, self.channel.session.hungup], count=1, timeout=timeout)
        return self.bridged.is_set()

    def _on_round(self, event: Event) -> None:
        # In a greenlet of its own: deciding may ask the switch.
        gevent.spawn(self._after_round, event)

    def _after_round(self, event: Event) -> None:
        if self.finished.is_set() or self.audio_ended:
            return
        if not (self.stop_reason or self.bridged.is_set()) and self.channel.is_up and self._still_looping():
            return
        self.channel.session.forget_looped(self._loop_uuid)
        self._on_completed(event)

    def _still_looping(self) -> bool:
        reply = self._api(f"uuid_getvar {self.uuid} current_loop").strip()
        return reply.isdigit()

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
        self.channel.session.forget_looped(self._loop_uuid)
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
