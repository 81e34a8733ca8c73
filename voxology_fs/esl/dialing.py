"""Placing a call of its own from a call (DIAL), on FreeSWITCH.

The new call is a ``bgapi originate`` sent on our socket, built like Make
Call's: answered, it comes to a call server's socket and runs its own flow.
Its outcome comes as events, never by asking: the job's ``BACKGROUND_JOB``
(``+OK`` once it answered, ``-ERR <cause>`` when it did not) and, when we
wait for its end, its ``CHANNEL_HANGUP``.  A filter on the job's uuid, and
on the new channel's for its end, lets them reach our socket; they are
dropped when the wait ends.  While we wait for its end, its other
subscribed events (its applications' completions) reach us too: filters
add up, they cannot narrow one another.

With ``connect``, our caller holds (:class:`~voxology_fs.esl.hold.EslHolding`)
until the new call joins it with ``uuid_bridge`` (its call server does that
when its flow runs out); the two talk, and ``park_after_bridge`` hands our
caller back to our flow when the other hangs up.
"""

from __future__ import annotations

import time

import gevent

from ..capabilities import DIAL_WAITS, Dialing, DialOutcome
from ..channel import Prompt
from . import dial
from .bridge import SIP_BY_CAUSE, STATUS_BY_CAUSE
from .capability import EslCapability
from .connection import CommandError, CommandTimeout, NotConnectedError
from .hold import EslHolding
from .protocol import Event


class EslDialing(EslCapability[DialOutcome], Dialing):
    EVENTS = ("BACKGROUND_JOB",)

    def __init__(self, channel, commands):
        super().__init__(channel, commands)
        self.call_id = ""
        self.wait_for = ""
        self.answered_at: float | None = None
        self.hold: EslHolding | None = None

    def start(
        self,
        call_id: str,
        number: str,
        *,
        caller_id: str,
        ring_timeout_s: int = 30,
        wait_for: str = "",
        connect_prompts: list[Prompt] | None = None,
    ) -> None:
        if wait_for not in DIAL_WAITS:
            raise ValueError(f"wait_for must be one of {DIAL_WAITS}")
        self.call_id = dial.check_uuid(call_id)
        command = dial.call_originate(
            self.channel.dial_template, self.channel.socket_address, call_id, number, caller_id, ring_timeout_s
        )
        connect = connect_prompts is not None
        self.wait_for = "ended" if connect else wait_for
        if self.wait_for:
            filters = {"Job-UUID": call_id}
            if self.wait_for == "ended":
                filters["Unique-ID"] = call_id
            self._begin(filters)
            self._listen_to_it("BACKGROUND_JOB", self._on_job)
            self._listen_to_it("CHANNEL_HANGUP", self._on_its_hangup)
        else:
            self.started_at = time.monotonic()
        if connect:
            self.hold = EslHolding(self.channel, self.commands)
            self.hold.start(connect_prompts or [])
            self.hold.finished.rawlink(lambda _: gevent.spawn(self._on_hold_ended))
        try:
            self.channel.session.bgapi(command, job_uuid=call_id)
        except (CommandError, CommandTimeout, NotConnectedError) as exc:
            self._conclude(DialOutcome("failed", f"originate not taken: {exc}", sip_code=None))
            return
        if not self.wait_for:
            self._conclude(DialOutcome("queued"))

    def _listen_to_it(self, key: str, handler) -> None:
        """Events of the new call (or its job), which our own listeners ignore."""

        def its(event: Event) -> None:
            if event.get("Job-UUID") == self.call_id or event.get("Unique-ID") == self.call_id:
                # Out of the socket's reader: concluding may write to the socket.
                gevent.spawn(handler, event)

        self.channel.session.register_handle(key, its)
        self._handlers.append((key, its))

    def _on_job(self, event: Event) -> None:
        body = (event.body or "").strip()
        if body.startswith("+OK"):
            self.answered_at = time.monotonic()
            if self.wait_for == "answered":
                self._conclude(DialOutcome("answered", sip_code=200))
            return
        cause = (body[4:].strip() if body.startswith("-ERR") else "") or "NORMAL_TEMPORARY_FAILURE"
        self._conclude(DialOutcome(STATUS_BY_CAUSE.get(cause, "failed"), cause, SIP_BY_CAUSE.get(cause)))

    def _on_its_hangup(self, event: Event) -> None:
        cause = event.get("Hangup-Cause") or "NORMAL_CLEARING"
        if self.answered_at is None and event.get("Answer-State") != "answered":
            # Ended before it answered: the job's -ERR says how (it follows).
            return
        if self.hold is not None and self.hold.bridged.is_set():
            return  # it joined our caller: the hold's end concludes
        self._conclude(DialOutcome("completed", cause, 200, talk_seconds=self._talked()))

    def _on_hold_ended(self) -> None:
        hold = self.hold
        if hold is None or hold.outcome is None:
            return
        if hold.outcome.reason == "taken":
            self._conclude(
                DialOutcome("completed", "NORMAL_CLEARING", 200, connected=True, talk_seconds=hold.outcome.talk_seconds)
            )
        elif self.outcome is None and hold.outcome.reason == "hung_up":
            self._conclude(DialOutcome("canceled", "ORIGINATOR_CANCEL", stopped="hangup"))

    def _talked(self) -> float:
        return round(time.monotonic() - self.answered_at, 3) if self.answered_at else 0.0

    def _conclude(self, outcome: DialOutcome) -> None:
        if self.outcome is not None:
            return
        self.outcome = outcome
        hold = self.hold
        if hold is not None and hold.running and not outcome.connected:
            hold.stop("not connected")  # it ended or failed without joining us
        self._finish()

    def _on_call_ended(self) -> None:
        # Our caller hung up first: a call placed to join it has no one to
        # join; any other goes on with its own flow.
        if self.hold is not None:
            self._api(f"uuid_kill {self.call_id} ORIGINATOR_CANCEL")
        self._conclude(DialOutcome("canceled", "ORIGINATOR_CANCEL", stopped="hangup"))

    def _outcome_without_end(self) -> DialOutcome:
        return DialOutcome("canceled", self.channel.hangup_cause, stopped=self.stop_reason or "hangup")

    def stop(self, reason: str = "stopped") -> None:
        """Stop waiting.  A call placed to join ours ends with the wait; any
        other goes on with its own flow."""
        if self.finished.is_set():
            return
        self.stop_reason = reason
        if self.hold is not None:
            self._api(f"uuid_kill {self.call_id} NORMAL_CLEARING")
            self.hold.stop(reason)
        self._conclude(
            DialOutcome(
                "answered" if self.answered_at else "canceled",
                "",
                talk_seconds=self._talked(),
                stopped=reason,
            )
        )
