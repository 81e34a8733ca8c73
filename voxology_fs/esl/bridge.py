"""Bridging on FreeSWITCH: the ``bridge`` application on our call.

The dial strings are the caller's (already escaped); each gets an
``origination_uuid`` of ours so that ``stop`` can hang up the leg that
rings or talks.  ``continue_on_fail`` and ``hangup_after_bridge=false`` keep
our caller on the line whatever the dial or the other leg does.
"""

from __future__ import annotations

import time
import uuid as uuidlib

import gevent

from ..capabilities import BridgeOutcome, Bridging, LegEnd
from ..channel import AudioFile, Prompt
from . import args as fsargs
from . import dial
from .capability import EslCapability
from .protocol import Event
from .times import switch_time

# FreeSWITCH's causes for a dial that failed, as our statuses.
STATUS_BY_CAUSE = {
    "SUCCESS": "completed",
    "USER_BUSY": "busy",
    "NO_ANSWER": "no_answer",
    "NO_USER_RESPONSE": "no_answer",
    "ALLOTTED_TIMEOUT": "no_answer",
    "PROGRESS_TIMEOUT": "no_answer",
    "ORIGINATOR_CANCEL": "canceled",
    "LOSE_RACE": "canceled",
    "CALL_REJECTED": "rejected",
}
# How long a completed bridge waits for its legs' own hangups to arrive.
LEG_ENDS_WAIT_S = 2.0
# The SIP response a cause usually stands for, when the switch gives none.
SIP_BY_CAUSE = {
    "USER_BUSY": 486,
    "NO_ANSWER": 480,
    "NO_USER_RESPONSE": 408,
    "CALL_REJECTED": 603,
    "UNALLOCATED_NUMBER": 404,
    "NORMAL_TEMPORARY_FAILURE": 503,
    "ORIGINATOR_CANCEL": 487,
    "INVALID_NUMBER_FORMAT": 484,
    "SUCCESS": 200,
}


def sip_code_of(
    event: Event | None, cause: str, variable: str = "last_bridge_proto_specific_hangup_cause"
) -> int | None:
    proto = (event.variable(variable) or "") if event is not None else ""
    if proto.startswith("sip:") and proto[4:].isdigit():
        return int(proto[4:])
    return SIP_BY_CAUSE.get(cause)


def leg_end_of(event: Event) -> LegEnd:
    """A dialled leg's CHANNEL_HANGUP: its own cause, SIP code and times."""
    cause = event.get("Hangup-Cause") or "NORMAL_CLEARING"
    answered_at = switch_time(event.get("Caller-Channel-Answered-Time"))
    return LegEnd(
        status="completed" if answered_at else STATUS_BY_CAUSE.get(cause, "failed"),
        cause=cause,
        sip_code=sip_code_of(event, cause, "proto_specific_hangup_cause"),
        answered_at=answered_at,
        # Caller-Channel-Hangup-Time is still 0 in CHANNEL_HANGUP (bridge_leg_ends.outbound.log).
        ended_at=switch_time(event.get("Caller-Channel-Hangup-Time")) or switch_time(event.get("Event-Date-Timestamp")),
    )


class EslBridging(EslCapability[BridgeOutcome], Bridging):
    EVENTS = ("CHANNEL_BRIDGE",)

    def __init__(self, channel, commands):
        super().__init__(channel, commands)
        self.leg_uuids: list[str] = []
        self.other_uuid = ""
        self.bridged_at: float | None = None
        self.time_limit_ms: int | None = None
        self.joined = False  # join(): bridged to a call that waited for ours
        self.send_digits = ""
        self.leg_ends: dict[str, LegEnd] = {}
        self._legs_ended = gevent.event.Event()

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
        if not targets:
            raise ValueError("nothing to dial")
        if leg_ids is not None and len(leg_ids) != len(targets):
            raise ValueError("one leg id per target")
        legs = []
        for i, target in enumerate(targets):
            if not target or any(c in target for c in "\r\n|,"):
                raise ValueError(f"not one dial string: {target!r}")
            leg_uuid = dial.check_uuid(leg_ids[i]) if leg_ids else str(uuidlib.uuid4())
            self.leg_uuids.append(leg_uuid)
            variables = [f"origination_uuid={leg_uuid}"]
            if screen_s:
                variables += dial.screening_variables(self.channel.socket_address, leg_uuid, ring_timeout_s, screen_s)
            legs.append(f"[{','.join(variables)}]{target}")
        # A screened leg rings for its leg_timeout, then may take screen_s to accept.
        options = [fsargs.set_arg("originate_timeout", str(int(ring_timeout_s) + int(screen_s)))]
        if caller_id:
            options.append(dial.variable("origination_caller_id_number", dial.check_number(caller_id)))
        self.time_limit_ms = time_limit_ms
        if len(send_digits) > 32:
            raise ValueError(f"more than 32 DTMF digits: {send_digits!r}")
        self.send_digits = fsargs.dtmf_arg(send_digits)
        # Each leg's own CHANNEL_HANGUP reaches our socket through a filter on its uuid.
        self._begin(filters=[("Unique-ID", leg) for leg in self.leg_uuids])
        self._listen("CHANNEL_BRIDGE", self._on_bridge)
        self._listen_to_legs("CHANNEL_HANGUP", self._on_leg_hangup)
        # Set (or cleared: an empty value unsets) for every bridge, so that
        # nothing of an earlier TRANSFER's applies to this one.
        settings = {
            "continue_on_fail": "true",
            "hangup_after_bridge": "false",
            "bridge_terminate_key": "*" if hangup_on_star else "",
            **self._ringback_settings(ringback),
        }
        self.channel._fire("multiset", fsargs.multiset_arg(settings))
        # "," rings the legs at once (the first to answer wins), "|" one after the other.
        self._run_app("bridge", "{" + ",".join(options) + "}" + ("," if simultaneous else "|").join(legs))

    def join(self, other_uuid: str) -> None:
        """``uuid_bridge`` the other call (holding, with ``park_after_bridge``) to ours.

        The other is the bridge's A side, so the bridge's events are its own;
        ours ends the bridge by hanging up, which is how this one concludes.
        """
        self.other_uuid = dial.check_uuid(other_uuid)
        self._begin()
        self._legs_ended.set()  # nothing dialled
        self.joined = True
        reply = self._api(f"uuid_bridge {self.other_uuid} {self.uuid}")
        if reply.startswith("+OK"):
            self.bridged_at = time.monotonic()
        else:
            self.outcome = BridgeOutcome("failed", "NO_ROUTE_DESTINATION", other_uuid=self.other_uuid)
            self._finish()

    def _ringback_settings(self, ringback: Prompt | None) -> dict[str, str]:
        """What our caller hears while the far end rings.

        Answered, FreeSWITCH plays it ``transfer_ringback``; not yet answered,
        the far end's ringing (SIP 180) reaches the caller as it is, and an
        audio file is played as early media (``ringback``).  None: the far
        end's own early media.
        """
        source = fsargs.prompt_source(ringback) if ringback is not None else ""
        return {
            "transfer_ringback": source,
            "ringback": source if isinstance(ringback, AudioFile) else "",
        }

    def _listen_to_legs(self, key: str, handler) -> None:
        def theirs(event: Event) -> None:
            if event.get("Unique-ID") in self.leg_uuids:
                handler(event)

        self.channel.session.register_handle(key, theirs)
        self._handlers.append((key, theirs))

    def _on_leg_hangup(self, event: Event) -> None:
        self.leg_ends[event.get("Unique-ID", "")] = leg_end_of(event)
        if len(self.leg_ends) == len(self.leg_uuids):
            self._legs_ended.set()

    def target_for(self, destination: str) -> str:
        if destination.startswith("sip:"):
            return dial.sip_endpoint(self.channel.sip_dial_template, destination)
        return dial.endpoint(self.channel.dial_template, destination)

    def _on_bridge(self, event: Event) -> None:
        other = event.get("Other-Leg-Unique-ID") or event.get("Bridge-B-Unique-ID") or ""
        self.other_uuid = other if other != self.uuid else event.get("Bridge-A-Unique-ID", "")
        self.bridged_at = time.monotonic()
        if self.on_bridged is not None:
            gevent.spawn(self.on_bridged, self.other_uuid)
        if self.send_digits:
            # Spawned: this runs in the socket's reader, which must stay free for the reply.
            gevent.spawn(self._api, f"uuid_send_dtmf {self.other_uuid} {self.send_digits}")
        if self.time_limit_ms:
            gevent.spawn_later(self.time_limit_ms / 1000.0, self._time_is_up, self.other_uuid)

    def _time_is_up(self, other: str) -> None:
        if not self.finished.is_set():
            self._api(f"uuid_kill {other} ALLOTTED_TIMEOUT")

    def _on_completed(self, event: Event | None) -> None:
        # The legs' hangups come on the switch's other threads: give them a moment.
        self._legs_ended.wait(timeout=LEG_ENDS_WAIT_S if self.channel.session.connected else 0)
        get = (lambda name: event.variable(name) or "") if event is not None else (lambda name: "")
        disposition = get("originate_disposition") or get("DIALSTATUS")
        talk = round(time.monotonic() - self.bridged_at, 3) if self.bridged_at else 0.0
        if disposition == "SUCCESS" or self.bridged_at:
            cause = get("bridge_hangup_cause") or get("last_bridge_hangup_cause") or "NORMAL_CLEARING"
            self.outcome = BridgeOutcome(
                "completed",
                cause,
                sip_code=200,
                other_uuid=self.other_uuid or get("last_bridge_to"),
                talk_seconds=talk,
                stopped=self.stop_reason,
                legs=dict(self.leg_ends),
            )
        else:
            cause = get("originate_failed_cause") or disposition or "NORMAL_TEMPORARY_FAILURE"
            status = "canceled" if self.stop_reason else STATUS_BY_CAUSE.get(cause, "failed")
            self.outcome = BridgeOutcome(
                status, cause, sip_code=sip_code_of(event, cause), stopped=self.stop_reason, legs=dict(self.leg_ends)
            )
        self._finish()

    def _outcome_without_end(self) -> BridgeOutcome:
        if self.joined and self.bridged_at:
            talk = round(time.monotonic() - self.bridged_at, 3)
            return BridgeOutcome("completed", self.channel.hangup_cause, 200, self.other_uuid, talk, self.stop_reason)
        return BridgeOutcome(
            "canceled",
            self.channel.hangup_cause,
            other_uuid=self.other_uuid,
            stopped=self.stop_reason or "hangup",
            legs=dict(self.leg_ends),
        )

    def stop(self, reason: str = "stopped") -> None:
        """Hang up the dialled leg (the one talking, or those ringing)."""
        if self.finished.is_set():
            return
        self.stop_reason = reason
        if self.joined:
            # The call we joined waited for us and goes on when we leave:
            # leaving is ending our side.
            self._api(f"uuid_kill {self.uuid} NORMAL_CLEARING")
            self._await_stopped()
            return
        for leg in [self.other_uuid] if self.other_uuid else self.leg_uuids:
            self._api(f"uuid_kill {leg} NORMAL_CLEARING")
        self._await_stopped()
