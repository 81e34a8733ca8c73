"""The capabilities of a simulated call (:mod:`voxology_fs.simulate`).

Nothing rings or talks: each twin writes what would happen to the
transcript, on its virtual clock, and returns the outcome the simulated
call's policies give:

* ``dial_policy(target)`` -> ``("answer", talk_seconds)``, ``("busy",)``,
  ``("noanswer",)`` or ``("fail", cause)`` (default: answer, 0 s);
* ``hold_taker``: the uuid of the call that takes a held caller (None: nobody);
* ``conference_exit``: why a member leaves ("left", "kicked", "ended"...);
* ``beep_after_ms``: when a detector hears a beep (None: never).
"""

from __future__ import annotations

from .capabilities import (
    BridgeOutcome,
    Bridging,
    ConferenceOutcome,
    Conferencing,
    Detecting,
    DetectOutcome,
    Dialing,
    DialOutcome,
    Holding,
    HoldOutcome,
    Recording,
    RecordingOutcome,
)
from .channel import CallEnded

FAILED_DIALS: dict[str, tuple[str, str, int | None]] = {
    "busy": ("busy", "USER_BUSY", 486),
    "noanswer": ("no_answer", "NO_ANSWER", 480),
}


def default_dial_policy(target: str):
    return ("answer", 0)


class SimulatedCapability:
    def __init__(self, channel):
        self.channel = channel
        self.t = channel.t
        self.outcome = None
        self.stop_reason = ""
        self._started = False

    @property
    def running(self) -> bool:
        return self._started and self.outcome is None

    def _begin(self) -> None:
        if not self.channel.is_up:
            raise CallEnded(self.channel.hangup_cause)
        self._started = True
        self.started_ms = self.t.virtual_ms

    def _seconds(self) -> float:
        return (self.t.virtual_ms - self.started_ms) / 1000.0


class SimulatedBridging(SimulatedCapability, Bridging):
    def start(
        self,
        targets,
        *,
        ring_timeout_s: int = 30,
        caller_id=None,
        simultaneous=False,
        time_limit_ms=None,
        leg_ids=None,
        ringback=None,
        send_digits="",
        hangup_on_star=False,
        screen_s=0,
    ) -> None:
        self._begin()
        self.targets, self.ring_timeout_s = list(targets), ring_timeout_s
        self.time_limit_ms, self.leg_ids = time_limit_ms, list(leg_ids or [])
        if simultaneous:
            self.t.say("rings " + ", ".join(self.targets) + " at once")

    def join(self, other_uuid: str) -> None:
        self._begin()
        self.t.say(f"joins the call that placed it ({other_uuid})")
        self.outcome = BridgeOutcome("completed", "NORMAL_CLEARING", 200, other_uuid=other_uuid)

    def target_for(self, number: str) -> str:
        return number

    def wait(self, timeout=None) -> BridgeOutcome:
        if self.outcome is not None:
            return self.outcome
        policy = getattr(self.channel, "dial_policy", None) or default_dial_policy
        status, cause, sip = "failed", "NORMAL_TEMPORARY_FAILURE", None
        for target in self.targets:
            self.t.say(f"dials {target}")
            verdict = policy(target) or ("answer", 0)
            if verdict[0] == "answer":
                talk = float(verdict[1] if len(verdict) > 1 else 0)
                cause = "NORMAL_CLEARING"
                if self.time_limit_ms is not None and talk > self.time_limit_ms / 1000:
                    talk, cause = self.time_limit_ms / 1000, "ALLOTTED_TIMEOUT"
                if timeout is not None and talk > timeout:
                    talk, self.stop_reason = float(timeout), "timeout"
                self.t.say(f"{target} answers; they talk {talk:g} s")
                self.t.virtual_ms += int(talk * 1000)
                index = self.targets.index(target)
                self.outcome = BridgeOutcome(
                    "completed",
                    cause,
                    200,
                    other_uuid=self.leg_ids[index] if self.leg_ids else f"sim-{target}",
                    talk_seconds=talk,
                    stopped=self.stop_reason,
                )
                return self.outcome
            if verdict[0] == "noanswer":
                self.t.virtual_ms += self.ring_timeout_s * 1000
            status, cause, sip = FAILED_DIALS.get(verdict[0], ("failed", str(verdict[-1]), None))
            self.t.say(f"{target}: {status.replace('_', ' ')} ({cause})")
        self.outcome = BridgeOutcome(status, cause, sip)
        return self.outcome

    def stop(self, reason: str = "stopped") -> None:
        if self.running:
            self.stop_reason = reason
            self.t.say("the dialled leg is hung up")
            self.outcome = BridgeOutcome("canceled", "ORIGINATOR_CANCEL", 487, stopped=reason)


class SimulatedConferencing(SimulatedCapability, Conferencing):
    def start(
        self, room: str, *, flags=frozenset(), wait_for_moderator=False, max_members=0, beep="true", leave_key=""
    ) -> None:
        self._begin()
        self.room = room
        self.room_uuid = f"simulated-{room}"
        shown = f" ({', '.join(sorted(flags))})" if flags else ""
        self.t.say(f"caller joins conference {room}{shown}")

    def wait_joined(self, timeout: float) -> str:
        return "1"

    def end_room(self) -> None:
        self.t.say(f"every other member leaves conference {self.room}")

    def relate(self, pairs) -> None:
        if pairs:
            self.t.say(f"{len(pairs)} members of conference {self.room} do not hear each other")

    def record_room(self, path: str) -> bool:
        self.t.say(f"conference {self.room} is recorded")
        return True

    def wait(self, timeout=None) -> ConferenceOutcome:
        if self.outcome is None:
            reason = getattr(self.channel, "conference_exit", "left") or "left"
            self.t.say(f"caller leaves conference {self.room} ({reason})")
            self.outcome = ConferenceOutcome(reason, self.room, "1", self._seconds())
        return self.outcome

    def stop(self, reason: str = "stopped") -> None:
        if self.running:
            self.t.say(f"caller is kicked from conference {self.room}")
            self.outcome = ConferenceOutcome(reason, self.room, "1", self._seconds())


class SimulatedHolding(SimulatedCapability, Holding):
    def start(self, prompts) -> None:
        self._begin()
        self.t.say(f"caller waits on hold ({len(prompts)} prompt(s) over and over)")

    def wait(self, timeout=None) -> HoldOutcome:
        if self.outcome is None:
            taker = getattr(self.channel, "hold_taker", None)
            if taker:
                self.t.say(f"call {taker} takes the caller")
                self.outcome = HoldOutcome("taken", taker, self._seconds())
            else:
                self.t.virtual_ms += int((timeout or 0) * 1000)
                self.t.say("nobody takes the caller")
                self.outcome = HoldOutcome("timeout", "", self._seconds())
        return self.outcome

    def bridge_to(self, other_uuid: str) -> bool:
        self.t.say(f"caller is bridged to {other_uuid}")
        self.channel.hold_taker = other_uuid
        return True

    def wait_taken(self, timeout: float) -> bool:
        return bool(getattr(self.channel, "hold_taker", None))

    def stop(self, reason: str = "stopped") -> None:
        if self.running:
            self.t.say("caller leaves the hold")
            self.outcome = HoldOutcome(reason, "", self._seconds())


class SimulatedRecording(SimulatedCapability, Recording):
    def start(self, path: str, *, stereo: bool = False, bridged_only: bool = False) -> None:
        self._begin()
        self.path, self.paused = path, False
        self.t.say(f"recording starts ({path})")

    def pause(self) -> None:
        if self.running and not self.paused:
            self.paused = True
            self.t.say("recording paused")

    def resume(self) -> None:
        if self.running and self.paused:
            self.paused = False
            self.t.say("recording resumed")

    def wait(self, timeout=None) -> RecordingOutcome:
        if self.outcome is None:
            self.t.virtual_ms += int((timeout or 0) * 1000)
            self.stop("timeout" if timeout is not None else "hung_up")
        assert self.outcome is not None, "stop() gives the outcome"
        return self.outcome

    def stop(self, reason: str = "stopped") -> None:
        if self.running:
            self.t.say(f"recording stops ({reason})")
            self.outcome = RecordingOutcome(self.path, reason, 0.0, self._seconds())


class SimulatedDetecting(SimulatedCapability, Detecting):
    def start(self) -> None:
        self._begin()
        self.t.say("beep detector listens")

    def wait(self, timeout=None) -> DetectOutcome:
        if self.outcome is None:
            after = getattr(self.channel, "beep_after_ms", None)
            if after is not None and (timeout is None or after <= timeout * 1000):
                self.t.virtual_ms += int(after)
                self.t.say("beep detected")
                self.outcome = DetectOutcome("detected", 1000.0, self._seconds())
            else:
                self.t.virtual_ms += int((timeout or 0) * 1000)
                self.stop("timeout")
        assert self.outcome is not None, "stop() gives the outcome"
        return self.outcome

    def stop(self, reason: str = "stopped") -> None:
        if self.running:
            self.t.say(f"beep detector stops ({reason})")
            self.outcome = DetectOutcome(reason, None, self._seconds())


class SimulatedDialing(SimulatedCapability, Dialing):
    """A DIAL's new call: its own flow is not simulated; its answer follows ``dial_policy``."""

    def start(self, call_id, number, *, caller_id, ring_timeout_s=30, wait_for="", connect_prompts=None) -> None:
        self._begin()
        self.number, self.wait_for, self.connect = number, wait_for, connect_prompts is not None
        self.t.say(f"places a new call to {number} from {caller_id} (it runs its own flow)")

    def wait(self, timeout=None) -> DialOutcome:
        if self.outcome is not None:
            return self.outcome
        if not (self.wait_for or self.connect):
            self.outcome = DialOutcome("queued")
            return self.outcome
        policy = getattr(self.channel, "dial_policy", None) or default_dial_policy
        verdict = policy(self.number) or ("answer", 0)
        if verdict[0] != "answer":
            status, cause, sip = FAILED_DIALS.get(verdict[0], ("failed", "NORMAL_TEMPORARY_FAILURE", None))
            self.t.say(f"{self.number} does not answer ({status})")
            self.outcome = DialOutcome(status, cause, sip)
            return self.outcome
        talk = float(verdict[1] if len(verdict) > 1 else 0)
        if self.wait_for == "answered" and not self.connect:
            self.t.say(f"{self.number} answers")
            self.outcome = DialOutcome("answered", sip_code=200)
            return self.outcome
        self.t.say(f"{self.number} answers; " + ("they talk" if self.connect else "its call lasts") + f" {talk:g} s")
        self.t.virtual_ms += int(talk * 1000)
        self.outcome = DialOutcome("completed", "NORMAL_CLEARING", 200, connected=self.connect, talk_seconds=talk)
        return self.outcome

    def stop(self, reason: str = "stopped") -> None:
        self.stop_reason = reason
        if self.outcome is None:
            self.outcome = DialOutcome("canceled", stopped=reason)
