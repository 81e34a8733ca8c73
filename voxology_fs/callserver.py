"""The call server: FreeSWITCH's dialplan hands every call to this socket.

Each connection is one call, run by one greenlet: find the call's flow
(by the called number, or by our call id for calls placed by Make Call),
then run the callback-response loop until the call ends.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import time
from collections import deque

from gevent.server import StreamServer

from . import child_calls, conferences, messages, numbers, queues, recordings, store
from .audio import AudioCache
from .callbacks import CallbackClient
from .detection.settings import detector_settings_from
from .esl.channel import SIP_REJECT_CAUSES, EslChannel
from .esl.connection import CommandError, CommandTimeout, NotConnectedError, OutboundSession
from .flow.runner import CallFlowRunner, Services
from .flow.state import CallState
from .flow.whisper_runner import WhisperRunner
from .settings import Settings, Switch
from .timeutil import utcnow

log = logging.getLogger(__name__)


class CallServerStats:
    """Counters an operator (and the benchmarks) can read."""

    def __init__(self):
        self.active = 0
        self.handled = 0
        self.rejected_over_capacity = 0
        self.rejected_no_flow = 0
        self.failed = 0
        # Seconds from FreeSWITCH's connect to our first application, for
        # the most recent calls.
        self.setup_times: deque[float] = deque(maxlen=10000)

    def summary(self) -> str:
        times = sorted(self.setup_times)
        setup = ""
        if times:
            p50, p99 = times[len(times) // 2], times[max(0, int(len(times) * 0.99) - 1)]
            setup = f"; connect to first application p50 {p50 * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms"
        return (
            f"{self.handled} calls handled, {self.rejected_over_capacity} over capacity, "
            f"{self.rejected_no_flow} without a flow, {self.failed} failed{setup}"
        )


class CallServer:
    def __init__(
        self,
        settings: Settings,
        callbacks: CallbackClient | None = None,
        audio: AudioCache | None = None,
        trace_writer: store.TraceWriter | None = None,
    ):
        self.settings = settings
        self.callbacks = callbacks or CallbackClient.from_settings(settings)
        self.audio = audio or AudioCache.from_settings(settings)
        self.trace_writer = trace_writer or store.TraceWriter()
        self.stats = CallServerStats()
        self.services = Services(
            callbacks=self.callbacks,
            audio=self.audio,
            save_progress=store.save_progress,
            finish_call=store.finish_call,
            trace=self.trace_writer.add,
            caller_id_allowed=child_calls.caller_id_allowed,
            record_child_calls=child_calls.record_child_calls,
            open_child_calls=child_calls.open_child_calls,
            call_of_account=child_calls.call_of_account,
            child_answered=child_calls.child_answered,
            prepare_dial=functools.partial(
                child_calls.prepare_dial,
                max_outbound=settings.max_outbound_calls_per_account,
                max_depth=settings.max_dial_depth,
            ),
            outbound_limit=functools.partial(
                child_calls.outbound_limit_problem, limit=settings.max_outbound_calls_per_account
            ),
            channel_of=child_calls.channel_of,
            rooms=conferences.RoomBook(self.callbacks),
            queues=queues.QueueBook(),
            recordings=recordings.RecordingBook.from_settings(settings, self.callbacks),
            messages=messages.MessageBook.from_settings(settings, self.callbacks),
            sip_transfer_domains=frozenset(d.lower() for d in settings.sip_transfer_domains),
            detector_settings=detector_settings_from(settings.detector_thresholds),
            max_callbacks=settings.max_callbacks_per_call,
            max_steps=settings.max_flow_steps,
            apology_text=settings.apology_text,
        )
        self.server: StreamServer | None = None
        # Called with each new OutboundSession before any traffic (tests use
        # it to record the wire, e.g. to compare the fake switch with a real one).
        self.session_hook = None
        self.identity = ""  # set by start()

    # -- the socket ---------------------------------------------------------------
    def start(self) -> None:
        address = (self.settings.outbound_host, self.settings.outbound_port)
        # StreamServer accepts as connections arrive (no polling) and spawns a
        # greenlet per connection; capacity is ours to enforce (see _handle).
        self.server = StreamServer(address, self._handle, backlog=1024)
        self.server.start()
        # Written on each call's record: which process on which host holds it.
        self.identity = f"{socket.gethostname()}:{os.getpid()} {self.server.address[0]}:{self.server.address[1]}"
        log.info("call server listening on %s:%d", *self.server.address[:2])

    @property
    def port(self) -> int:
        assert self.server is not None, "the call server is not started"
        return self.server.address[1]

    def serve_forever(self) -> None:
        if self.server is None:
            self.start()
        assert self.server is not None
        self.server.serve_forever()

    def stop(self, timeout: float = 5.0) -> None:
        if self.server is not None:
            self.server.stop(timeout=timeout)
        self.trace_writer.flush()

    def _handle(self, sock, address) -> None:
        connected_at = time.perf_counter()
        session = OutboundSession(sock, self.settings.esl_command_timeout)
        if self.session_hook is not None:
            self.session_hook(session)
        try:
            channel_data = session.connect()
        except (NotConnectedError, CommandTimeout):
            session.close()
            return
        if self.stats.active >= self.settings.max_calls:
            self.stats.rejected_over_capacity += 1
            self._refuse(session, 503, "over capacity")
            return
        self.stats.active += 1
        try:
            # The channel keeps what it reads of the channel data (a SIP
            # call's is about 20 KB), not the whole of it.
            channel = EslChannel(session, channel_data, self.settings.tts_engine, self.settings.tts_voice)
            switch = self._switch(channel.info.switch_name)
            channel.dial_template = switch.dial_string
            channel.sip_dial_template = switch.sip_dial_string
            channel.sms_template = switch.sms_uri
            # Calls this one places come back to this process (the port it got, when told 0).
            channel.socket_address = switch.socket_address or f"{self.settings.outbound_host}:{self.port}"
            del channel_data
            self._run_call(channel)
        except Exception:
            self.stats.failed += 1
            log.exception("call on %s failed", session.uuid)
        finally:
            self.stats.active -= 1
            self.stats.handled += 1
            if session.first_app_written_at is not None:
                self.stats.setup_times.append(session.first_app_written_at - connected_at)
            session.close()

    def _refuse(self, session: OutboundSession, code: int, why: str) -> None:
        log.warning("call %s refused with SIP %d: %s", session.uuid, code, why)
        try:
            # respond sends the SIP answer on a SIP channel; the hangup ends
            # channels that have none (loopback) the same way.
            session.execute_async("respond", str(code))
            session.execute_async("hangup", SIP_REJECT_CAUSES.get(code, "CALL_REJECTED"))
            session.hungup.wait(timeout=5)
            session.exit()
        except (NotConnectedError, CommandTimeout, CommandError):
            session.close()

    # -- one call ---------------------------------------------------------------------
    def _run_call(self, channel: EslChannel) -> None:
        session = channel.session
        info = channel.info
        call_id = info.variables.get("vox_call_id") or info.uuid
        channel.start(call_id)
        # The dialled leg itself (a loopback's other side has its variables too).
        if info.variables.get("vox_whisper") == "true" and call_id == info.uuid:
            self._run_whisper(channel, call_id)
            return

        found = self._identify(info, call_id, info.switch_name)
        if found is None:
            self.stats.rejected_no_flow += 1
            channel.reject(404)
            channel.close()
            return
        state, route, max_call_time_ms = found
        if max_call_time_ms:
            self._limit_call_time(session, info.uuid, max_call_time_ms)
        if info.variables.get("vox_make_call") == "true":
            # Make Call's record option travels as a channel variable of ours.
            state.record_call = info.variables.get("vox_record") or None
            state.detect_mode = info.variables.get("vox_detect") or None
        CallFlowRunner(channel, state, self.services, route.target, route.fallback).run()

    def _run_whisper(self, channel: EslChannel, leg_id: str) -> None:
        """A TRANSFER's leg answered: its whisper flow decides whether it is bridged."""
        job = self.services.whispers.get(leg_id)
        if job is None:  # not dialled by this process, or its TRANSFER is over
            log.warning("whisper leg %s is unknown here; refusing it", leg_id)
            channel.hangup()
            channel.close()
            return
        WhisperRunner(channel, job, self.services).run()

    @staticmethod
    def _limit_call_time(session: OutboundSession, uuid: str, max_call_time_ms: int) -> None:
        """Make Call's max_call_time: the switch hangs up with ALLOTTED_TIMEOUT.

        Done here, by whichever call server took the call, so it holds
        whatever happens to the REST process that placed it.
        """
        seconds = max(1, -(-int(max_call_time_ms) // 1000))
        try:
            reply = session.send(f"api sched_hangup +{seconds} {uuid} ALLOTTED_TIMEOUT").text()
        except (NotConnectedError, CommandTimeout) as exc:
            reply = str(exc)
        if not reply.startswith("+OK"):
            log.warning("call %s: sched_hangup refused: %s", uuid, reply.strip())

    def _switch(self, reported: str) -> Switch:
        """The switch a call came from (the only one, when it does not say)."""
        name = self._switch_name(reported)
        return next((s for s in self.settings.switches if s.name == name), None) or (
            self.settings.switches[0] if self.settings.switches else Switch(name=name)
        )

    def _switch_name(self, reported: str) -> str:
        names = [s.name for s in self.settings.switches]
        if reported in names:
            return reported
        return names[0] if len(names) == 1 else reported

    def _identify(self, info, call_id: str, switch_reported: str):
        """The call's state and flow configuration, or None when it has no flow."""
        region = self.settings.default_region
        if info.variables.get("vox_make_call") == "true":
            # Placed by Make Call: its record exists; the flow is its caller id's.
            call = store.load_call(call_id)
            if call is None:
                log.warning("outbound call %s has no record; refusing", call_id)
                return None
            route = store.route_for_placed(call)
            if route is None:
                log.warning("call %s: number %s has no call flow configuration", call_id, call.api_no)
                return None
            state = CallState(
                call_id=call_id,
                direction="outbound",
                caller_no=call.to_no or info.destination,
                api_no=call.api_no,
                app_id=route.application_id or "",
                account_id=call.account_id or "",
                session_data=call.session_data,
                custom_data=call.custom_data,
                start_time=call.start_time,
                answer_time=info.answered_at or utcnow(),
                subaccount_id=route.subaccount_id,
                parent_call_id=call.parent_call_id,
                connect_to=call.connect_to,
            )
            store.mark_live(call_id, info.uuid, state.answer_time, self.identity)
            return state, route, call.max_call_time_ms

        called = numbers.try_normalize(info.destination, region)
        route = store.route_for(called) if called else None
        if route is None or called is None:
            log.warning(
                "call %s to %r: no call flow configuration for that number; refused (404)", info.uuid, info.destination
            )
            return None
        caller = numbers.try_normalize(info.caller, region) or info.caller
        state = CallState(
            call_id=call_id,
            direction="inbound",
            caller_no=caller,
            api_no=called,
            app_id=route.application_id or "",
            account_id=route.account_id or "",
            sip_domain=info.sip_domain or self.settings.sip_domain,
            sip_forwarded_for=info.sip_forwarded_for,
            subaccount_id=route.subaccount_id,
        )
        store.create_call(state, self._switch_name(switch_reported), info.uuid, route.application_id, self.identity)
        return state, route, None
