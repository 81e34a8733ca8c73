"""The :class:`~voxology_fs.channel.Channel` of a call on FreeSWITCH.

Each method turns into dialplan applications sent over the call's outbound
socket, and waits for *their* completion (matched by ``Application-UUID``),
the call's hangup, or a live-control message, whichever comes first.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import deque
from collections.abc import Mapping

import gevent
import gevent.event

from .. import control
from ..channel import CallEnded, Channel, CollectResult, ControlInterrupt, Prompt, Speech
from . import args as fsargs
from .bridge import EslBridging
from .call_info import call_info_from
from .capability import SocketCommands
from .conference import EslConferencing
from .connection import CommandError, CommandTimeout, NotConnectedError, OutboundSession, PendingSubscription
from .detect import EslDetecting, listen_to_caller
from .dialing import EslDialing
from .hold import EslHolding
from .protocol import Event
from .recording import EslRecording, record_message
from .sms import send_text_on
from .times import switch_time

log = logging.getLogger(__name__)

# The events a call's socket subscribes to (``myevents`` costs FreeSWITCH far
# more CPU, and does not deliver our CUSTOM control events).
# Each event costs FreeSWITCH a serialisation of ~100 headers: only those we
# act on (completions, the hangup with its cause, our control messages). Keys
# come back in play_and_get_digits' completion, so DTMF events are not needed.
CALL_EVENTS = ["CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP", "CUSTOM", control.SUBCLASS]

SIP_REJECT_CAUSES = {
    404: "UNALLOCATED_NUMBER",
    486: "USER_BUSY",
    503: "NORMAL_TEMPORARY_FAILURE",
    603: "CALL_REJECTED",
    480: "NO_USER_RESPONSE",
    403: "CALL_REJECTED",
}
# Our own cause for a call whose switch connection broke.
LOST_CONNECTION = "SWITCH_CONNECTION_LOST"
# How long our hangup waits for its CHANNEL_HANGUP after the disconnect notice.
HANGUP_EVENT_WAIT_S = 1.0

COLLECT_VARIABLE = "vox_collected"


class EslChannel(Channel):
    def __init__(
        self,
        session: OutboundSession,
        channel_data: Mapping[str, str],
        tts_engine: str = "flite",
        tts_voice: str = "kal",
        media_timeout: float = 4 * 3600,
        dial_template: str = "sofia/gateway/trunk/{number}",
        socket_address: str = "",
        sip_dial_template: str = "sofia/voxology/{uri}",
    ):
        self.session = session
        # The switch's dial string for a number (its trunk), for bridges.
        self.dial_template = dial_template
        # The switch's dial string for a sip: URI (its SIP profile).
        self.sip_dial_template = sip_dial_template
        self.sms_template = "sip:{number}@127.0.0.1:5080"  # where the switch sends a text (its trunk)
        # Where the calls this one places (DIAL) come back to: a call server's socket.
        self.socket_address = socket_address
        self.info = call_info_from(channel_data)
        self.answered = self.info.answered
        self._answered_at = self.info.answered_at
        self._answer_done: gevent.event.AsyncResult | None = None
        self.tts = (tts_engine, tts_voice)
        self._tts_set: tuple[str, str] | None = None
        self.media_timeout = media_timeout
        # Live-control requests: updates (session data) wait for the next
        # step; the others interrupt what is playing.
        self._updates: deque[dict] = deque()
        self._interrupts: deque[dict] = deque()
        self._control_arrived = gevent.event.Event()
        session.register_handle(control.SUBCLASS, self._on_control)
        self._collects = 0
        self.call_id = ""  # ours, set by start()
        self._set_up: PendingSubscription | None = None  # the subscription's replies, until confirmed
        self._events = set(CALL_EVENTS)
        # Other channels and rooms are acted on through this (see capabilities).
        self.commands = SocketCommands(session)

    # -- set-up ---------------------------------------------------------------
    def start(self, call_id: str) -> None:
        """Subscribe narrowly and set the channel up for our applications, in one write.

        Not waited for here: the call server looks the call up in the
        database while the replies travel, and the first application
        confirms them (:meth:`_confirm_set_up`).
        """
        # Our dialplan (and Make Call's originate) set these before the
        # socket; whatever is missing (another dialplan) is set here.
        # vox_call_id on the channel lets the switch watchers find the call
        # should this process die.
        wanted = {
            "app_disable_expand_variables": "true",
            "playback_delimiter": fsargs.PROMPT_DELIMITER,
            "playback_terminators": "none",
            "sleep_eat_digits": "true",
            "vox_call_id": call_id,
        }
        fsargs.set_arg("vox_call_id", call_id)  # raises unless the id is a plain token
        self.call_id = call_id
        missing = {name: value for name, value in wanted.items() if self.info.variables.get(name) != value}
        self._set_up = self.session.start_subscription(
            CALL_EVENTS,
            filters={"Unique-ID": self.info.uuid, control.CALL_ID_HEADER: call_id},
            linger=True,
            then_execute=("multiset", fsargs.multiset_arg(missing)) if missing else None,
        )

    def _confirm_set_up(self) -> None:
        """Raise unless FreeSWITCH took the subscription (once, before our first application)."""
        pending, self._set_up = self._set_up, None
        if pending is not None:
            self.session.confirm_subscription(pending)

    def subscribe_more(
        self, events, filters: dict[str, str] | list[tuple[str, str]] | None = None, standing=()
    ) -> None:
        """Add the events (``NAME`` or ``CUSTOM sub::class``) and filters (a dict or pairs) a capability
        needs; ``standing`` filters stay for the call's life, sent once."""
        payloads = []
        for spec in [*events, *(f"filter {header} {value}" for header, value in standing)]:
            if spec not in self._events:
                payloads.append(spec if spec.startswith("filter ") else f"event plain {spec}")
                self._events.add(spec)
        pairs = filters.items() if isinstance(filters, dict) else filters or []
        payloads += [f"filter {header} {value}" for header, value in pairs]
        if not payloads:
            return
        try:
            self._confirm_set_up()
            for payload in payloads:
                reply = self.session.send(payload)
                if not reply.reply_text.startswith("+OK"):
                    raise CommandError(reply.reply_text)
        except (NotConnectedError, CommandTimeout, CommandError) as exc:
            log.warning("call %s: subscription failed: %s", self.info.uuid, exc)
            raise CallEnded(self.hangup_cause) from None

    def drop_filters(self, filters) -> None:
        for header, value in filters:
            try:
                self.session.send(f"filter delete {header} {value}", timeout=5)
            except (NotConnectedError, CommandTimeout):
                return

    # -- capabilities -------------------------------------------------------------
    def bridging(self):
        return EslBridging(self, self.commands)

    def dialing(self):
        return EslDialing(self, self.commands)

    def conferencing(self):
        return EslConferencing(self, self.commands)

    def holding(self):
        return EslHolding(self, self.commands)

    def recording(self):
        return EslRecording(self, self.commands)

    def detecting(self):
        return EslDetecting(self, self.commands)

    # -- events -----------------------------------------------------------------
    def _on_control(self, event: Event) -> None:
        if self.call_id and event.get(control.CALL_ID_HEADER, self.call_id) != self.call_id:
            return  # another call's (a capability's filter let it in)
        try:
            request = control.decode(event.body, event.get(control.COMMAND_HEADER, ""))
        except control.ControlError as exc:
            log.warning("call %s: control message ignored: %s", self.info.uuid, exc)
            return
        if not control.interrupts(request):
            # Applied between actions; what plays now goes on.
            self._updates.append(request)
        else:
            self.interrupt(request)

    def interrupt(self, request: dict) -> None:
        self._interrupts.append(request)
        self._control_arrived.set()

    def withdraw(self, request: dict) -> None:
        if request in self._interrupts:
            self._interrupts.remove(request)
        if not self._interrupts:
            self._control_arrived.clear()

    def tell_call(self, call_id: str, request: dict) -> None:
        """A control event for ``call_id``, sent on our own socket; it reaches that call's
        socket on this switch as live control does."""
        headers, body = control.encode(call_id, request)
        try:
            self.session.sendevent("CUSTOM", headers, body=body)
        except (NotConnectedError, CommandTimeout, CommandError) as exc:
            raise CallEnded(self.hangup_cause) from exc

    def poll_control(self) -> dict | None:
        if self._updates:
            return self._updates.popleft()
        return self._next_interrupt()

    def _next_interrupt(self) -> dict | None:
        request = self._interrupts.popleft() if self._interrupts else None
        if not self._interrupts:
            self._control_arrived.clear()
        return request

    @property
    def is_up(self) -> bool:
        return not self.session.hungup.is_set()

    @property
    def hangup_cause(self) -> str:
        event = self.session.hangup_event
        if event is not None:
            return event.get("Hangup-Cause") or event.variable("hangup_cause") or "NORMAL_CLEARING"
        return "NORMAL_CLEARING" if self.session.connected else LOST_CONNECTION

    # -- running applications -----------------------------------------------------
    def _fire(self, app: str, arg: str | None = None) -> gevent.event.AsyncResult:
        """Queue an application without waiting for it to finish."""
        return self._send_app(app, arg, lambda: self.session.execute_async(app, arg))

    def _fire_looped(self, app: str, arg: str | None, on_round) -> str:
        """Queue an application FreeSWITCH repeats until broken; returns its Event-UUID."""
        return self._send_app(app, arg, lambda: self.session.execute_looped(app, arg, on_round))

    def _send_app(self, app: str, arg: str | None, send):
        """``send()`` an application on a call still up; a failed write means the call is gone."""
        if not self.is_up:
            raise CallEnded(self.hangup_cause)
        try:
            self._confirm_set_up()
            return send()
        except (NotConnectedError, CommandTimeout, CommandError) as exc:
            log.warning("call %s: %s %s failed: %s", self.info.uuid, app, arg, exc)
            raise CallEnded(self.hangup_cause) from None

    def _run(
        self, app: str, arg: str | None = None, interruptible: bool = False, timeout: float | None = None
    ) -> Event:
        """Run an application and wait until it completes."""
        result = self._fire(app, arg)
        waits = [result, self.session.hungup]
        if interruptible:
            waits.append(self._control_arrived)
        gevent.wait(waits, count=1, timeout=timeout or self.media_timeout)
        if result.ready():
            return result.get()
        if self.session.hungup.is_set():
            # FreeSWITCH still completes the running application; its result
            # no longer matters.
            raise CallEnded(self.hangup_cause)
        if interruptible and self._control_arrived.is_set():
            self._break_media()
            result.wait(timeout=5)
            request = self._next_interrupt()
            if request is not None:
                raise ControlInterrupt(request)
            if result.ready():
                return result.get()
        raise CallEnded(self.hangup_cause)

    def _break_media(self) -> None:
        try:
            self.session.send(f"api uuid_break {self.info.uuid} all", timeout=5)
        except (NotConnectedError, CommandTimeout):
            pass

    def _ensure_tts(self, prompts: list[Prompt]) -> None:
        speech = next((p for p in prompts if isinstance(p, Speech)), None)
        if speech is None:
            return
        wanted = (speech.engine or self.tts[0], speech.voice or self.tts[1])
        if wanted != self._tts_set:
            self._fire(
                "multiset", f"{fsargs.set_arg('tts_engine', wanted[0])} {fsargs.set_arg('tts_voice', wanted[1])}"
            )
            self._tts_set = wanted

    # -- the Channel interface ------------------------------------------------------
    def ring(self) -> None:
        if not self.answered:
            self._fire("ring_ready")

    def answer(self) -> None:
        # Not awaited: the media application that follows queues behind it,
        # and FreeSWITCH runs both in one pass (a park-loop tick saved).
        self._answer_done = self._fire("answer")
        self.answered = True

    @property
    def answered_at(self):
        # The answer application's completion carries the switch's answer
        # time; it arrives before that of the media behind it.
        done = self._answer_done
        if self._answered_at is None and done is not None and done.ready() and done.successful():
            self._answered_at = switch_time(done.value.get("Caller-Channel-Answered-Time"))
        return self._answered_at

    def reject(self, sip_code: int) -> None:
        cause = SIP_REJECT_CAUSES.get(sip_code, "CALL_REJECTED")
        if self.answered:
            self.hangup(cause)
            return
        try:
            self._run("respond", str(int(sip_code)), timeout=10)
        except CallEnded:
            return
        self.hangup(cause)

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        if not self.is_up:
            return
        try:
            self._fire("hangup", cause)
        except CallEnded:
            return
        self.session.hungup.wait(timeout=10)
        # The hangup's own event says when and why; it may follow the notice.
        gevent.wait([self.session.hangup_told, self.session.closed], count=1, timeout=HANGUP_EVENT_WAIT_S)

    @property
    def ended_at(self) -> dt.datetime | None:
        # CHANNEL_HANGUP carries no hangup time yet (CHANNEL_HANGUP_COMPLETE,
        # which the watcher records, does): the moment it was fired is within
        # milliseconds of it.
        event = self.session.hangup_event
        if event is None:
            return None
        return switch_time(event.get("Caller-Channel-Hangup-Time")) or switch_time(event.get("Event-Date-Timestamp"))

    def play(self, prompts: list[Prompt], loops: int = 1) -> None:
        for _ in range(max(1, loops)):
            if len(prompts) == 1 and isinstance(prompts[0], Speech):
                speech = prompts[0]
                engine, voice = speech.engine or self.tts[0], speech.voice or self.tts[1]
                self._run("speak", fsargs.speak_arg(engine, voice, speech.text), interruptible=True)
            else:
                self._ensure_tts(prompts)
                self._run("playback", fsargs.prompt_list(prompts), interruptible=True)

    def collect(
        self,
        prompts: list[Prompt],
        *,
        max_digits: int,
        finish_keys: str,
        timeout_ms: int,
        digit_timeout_ms: int | None = None,
    ) -> CollectResult:
        # Keys pressed before the COLLECT started are not type-ahead: dropping
        # them keeps a stray finish key from ending this COLLECT at once.
        self._fire("flush_dtmf")
        self._ensure_tts(prompts)
        # A variable of its own for each COLLECT: a timeout leaves it unset,
        # so a later COLLECT can never read an earlier one's digits.
        self._collects += 1
        variable = f"{COLLECT_VARIABLE}_{self._collects}"
        arg = fsargs.play_and_get_digits_arg(
            prompts,
            max_digits=max_digits,
            finish_keys=finish_keys,
            timeout_ms=timeout_ms,
            digit_timeout_ms=digit_timeout_ms or timeout_ms,
            variable=variable,
        )
        event = self._run("play_and_get_digits", arg, interruptible=True)
        digits = event.variable(variable) or ""
        terminator = event.variable("read_terminator_used") or ""
        return CollectResult(digits=digits, terminator=terminator, timed_out=not digits and not terminator)

    def pause(self, ms: int) -> None:
        self._run("sleep", str(max(0, int(ms))), interruptible=True)

    def send_dtmf(self, digits: str) -> None:
        self._run("send_dtmf", fsargs.dtmf_arg(digits), interruptible=True)

    def close(self) -> None:
        self.session.exit()

    # RECORD, DETECT's ear and SMS: functions of their own modules, taking this channel.
    record = record_message
    listen = listen_to_caller
    send_text = send_text_on
