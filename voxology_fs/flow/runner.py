"""The callback-response loop of one call.

``init_call`` fetches the first actions; when a response's actions run out
and the call is still up, ``continue_call`` fetches more; when the call
ends, from either side, exactly one ``call_ended`` goes out.  A callback
that fails is retried where safe, then tried at the fallback URL, then the
caller hears a short apology and the call ends: never dead air.
"""

from __future__ import annotations

import logging
import time

from .. import control
from ..callbacks import CallbackError, CallbackTarget, decode_json
from ..capabilities import Capability
from ..channel import CallEnded, Channel, ControlInterrupt, Speech
from ..detection import DetectionParams
from ..timeutil import utcnow
from . import whole_call
from .actions.detect import detect_answer
from .errors import ActionFailed, FlowError, FlowValidationError, ParamRenderFailed, RunawayFlow
from .expressions import truthy
from .parser import compile_actions, nesting_problem_in_text, parse_response
from .program import Hangup, Program, Redirect, execute
from .services import Services
from .state import CallState

log = logging.getLogger(__name__)

__all__ = ["CallFlowRunner", "FlowContext", "Services"]


class FlowContext:
    """What an action sees while it runs."""

    def __init__(self, channel: Channel, state: CallState, services: Services):
        self.channel = channel
        self.state = state
        self.services = services
        self.callbacks = services.callbacks
        self.audio = services.audio
        self.lookup = state.lookup
        self.loops: dict[int, list] = {}
        # The capability an action waits on (a bridge, a conference...):
        # live control stops it its own way, plain media is broken instead.
        self.running: Capability | None = None

    def trace(self, kind: str, data: dict | None = None) -> None:
        self.services.trace(self.state.call_id, kind, data)

    def save_progress(self) -> None:
        self.services.save_progress(self.state)

    def record_error(self, error: Exception, **extra) -> None:
        record = error.as_record() if hasattr(error, "as_record") else {"code": "error", "message": str(error)}
        record.update(extra)
        record["at"] = utcnow().isoformat() + "Z"
        self.state.add_error(record)
        self.trace("error", record)
        log.warning("call %s: %s", self.state.call_id, record.get("message"))

    def warn(self, path: str, message: str) -> None:
        self.record_error(ActionFailed(message, path))

    def test(self, condition) -> bool:
        return truthy(condition.evaluate(self.lookup))

    def run_action(self, action):
        self.trace("action", {"type": action.type, "path": action.path})
        try:
            if action.needs_media and not self.channel.answered:
                self.channel.answer()
            result = action.run(self)
        except ActionFailed as exc:
            # The action is skipped and the flow goes on (a broken audio URL
            # must not end the call).
            self.record_error(exc)
            self.stop_running("failed")
            return None
        finally:
            if self.state.answer_time is None and self.channel.answered:
                # The switch's time of the answer itself, not of this action's end.
                self.state.answer_time = self.channel.answered_at or utcnow()
        self.running = None  # the action waited its capability out
        return result

    def start(self, capability, *args, **kwargs):
        """Start a capability the action then waits on; returns it."""
        self.running = capability
        capability.start(*args, **kwargs)
        return capability

    def stop_running(self, reason: str) -> None:
        """Stop the capability an action was waiting on, if any (its own way)."""
        running, self.running = self.running, None
        if running is not None and running.running:
            try:
                running.stop(reason)
            except CallEnded:
                pass

    def between_steps(self) -> None:
        """Apply live-control requests that arrived since the last step."""
        while (request := self.channel.poll_control()) is not None:
            if not control.interrupts(request):
                apply_session_data(self, request)
            else:
                raise ControlInterrupt(request)


def apply_session_data(ctx: FlowContext, request: dict) -> None:
    data = request.get("session_data")
    if isinstance(data, dict):
        ctx.state.merge_session_data(data)
        ctx.trace("session_data_injected", {"keys": sorted(data)})
        ctx.save_progress()


class CallFlowRunner:
    def __init__(
        self,
        channel: Channel,
        state: CallState,
        services: Services,
        target: CallbackTarget,
        fallback: CallbackTarget | None = None,
    ):
        self.channel = channel
        self.state = state
        self.services = services
        self.target = target
        self.fallback = fallback
        self.ctx = FlowContext(channel, state, services)
        self.callback_count = 0
        self.whole_call = None  # a recording of the whole call, when it asked for one

    # -- callbacks ----------------------------------------------------------------
    def _request(self, kind: str, target: CallbackTarget) -> list:
        """One callback request; returns the parsed actions."""
        self.callback_count += 1
        fields = self.state.callback_fields(kind)
        started = time.monotonic()
        try:
            body, _ = self.services.callbacks.send(target, fields)
            doc = decode_json(body, target.url)
        except CallbackError as exc:
            if exc.code == "nested_too_deeply":  # the answer arrived; the flow in it is invalid
                self.ctx.trace(
                    "callback",
                    {"type": kind, "url": target.url, "ok": True, "ms": round((time.monotonic() - started) * 1000, 1)},
                )
                raise FlowValidationError([nesting_problem_in_text(body.decode("utf-8", "replace"))]) from None
            self.ctx.trace(
                "callback",
                {
                    "type": kind,
                    "url": target.url,
                    "ok": False,
                    "error": exc.code,
                    "ms": round((time.monotonic() - started) * 1000, 1),
                },
            )
            raise
        self.ctx.trace(
            "callback",
            {"type": kind, "url": target.url, "ok": True, "ms": round((time.monotonic() - started) * 1000, 1)},
        )
        if doc is None:
            return []
        return parse_response(doc)

    def fetch(self, kind: str, target: CallbackTarget | None = None) -> Program | None:
        """Actions for the call from its callback (or fallback); None if both failed."""
        target = target or self.target
        if self.callback_count >= self.services.max_callbacks:
            raise RunawayFlow(f"the flow asked for more than {self.services.max_callbacks} callbacks")
        tries = [target] + ([self.fallback] if self.fallback and self.fallback.url != target.url else [])
        for attempt in tries:
            try:
                program = compile_actions(self._request(kind, attempt))
                if attempt is not target:
                    self.target = attempt  # the rest of the call uses the fallback
                return program
            except CallbackError as exc:
                self.ctx.record_error(exc)
            except FlowValidationError as exc:
                self.ctx.record_error(exc, url=attempt.url)
        return None

    # -- the loop -------------------------------------------------------------------
    def run(self) -> None:
        try:
            self.whole_call = whole_call.start(self.ctx, self.state.record_call)
            if self.state.detect_mode:
                # Make Call's detection: decided before init_call, which carries it.
                detect_answer(self.ctx, DetectionParams(mode=self.state.detect_mode))
            self.channel.ring()
            program = self.fetch("init_call")
            while program is not None and program is not DONE:
                if not len(program):
                    program = self._out_of_actions()
                    continue
                program = self._run_program(program)
            if program is None:
                self._apologise()  # callbacks failed
        except CallEnded:
            self.ctx.stop_running("hangup")
        except (RunawayFlow, ParamRenderFailed) as exc:
            self.ctx.record_error(exc)
            self._apologise()
        except Exception as exc:  # a bug must end this call cleanly, never another
            log.exception("call %s: unexpected error", self.state.call_id)
            self.ctx.stop_running("error")
            self.ctx.record_error(FlowError(f"internal error: {type(exc).__name__}"))
            self._apologise()
        finally:
            self.finish()

    def _run_program(self, program: Program):
        """Run one response; returns the next program, None (callbacks failed) or DONE."""
        while True:
            try:
                outcome = execute(program, self.ctx, self.services.max_steps)
            except ControlInterrupt as interrupt:
                self.ctx.stop_running("control")
                next_program = self._on_control(interrupt.request)
                if next_program is DONE or next_program is None:
                    return next_program
                if next_program is not CONTINUE:
                    if not len(next_program):
                        self.channel.hangup()  # no actions: the call ends, as with any response
                        return DONE
                    program = next_program
                    continue
                outcome = None
            if isinstance(outcome, Hangup) or not self.channel.is_up:
                return DONE
            if isinstance(outcome, Redirect):
                self.target = CallbackTarget(
                    outcome.url, outcome.method, outcome.content_type or self.target.content_type
                )
                return self.fetch("continue_call")
            return self._ran_to_the_end()

    def _ran_to_the_end(self):
        """A response's actions all ran: ask for more."""
        return self.fetch("continue_call")

    def _out_of_actions(self):
        """A response with no actions ends the call; a call placed by a
        DIAL with ``connect`` instead joins the caller who placed it, and
        ends when they finish talking.  Returns DONE, or what live control asked."""
        other = self.services.channel_of(self.state.connect_to) if self.state.connect_to else None
        if other and self.channel.is_up:
            self.ctx.trace("connect", {"call_id": self.state.connect_to})
            bridge = self.channel.bridging()
            self.ctx.running = bridge
            try:
                bridge.join(other)
                outcome = bridge.wait()
            except ControlInterrupt as interrupt:
                self.ctx.stop_running("control")
                next_program = self._on_control(interrupt.request)
                if next_program is not CONTINUE:
                    return next_program
            else:
                self.ctx.running = None
                self.ctx.trace("connect_ended", {"status": outcome.status, "seconds": outcome.talk_seconds})
        self.channel.hangup()
        return DONE

    def _on_control(self, request: dict):
        """A live-control request: a program to run now, DONE, None (callbacks failed) or CONTINUE."""
        command = request.get("command")
        self.ctx.trace("control", {"command": command})
        if command == control.HANGUP:
            self.channel.hangup()
            return DONE
        if command == control.REDIRECT:
            self.target = CallbackTarget(
                request.get("url", ""),
                request.get("method", "POST"),
                request.get("content_type") or self.target.content_type,
            )
            return self.fetch("continue_call")
        if command == control.ACTIONS:
            try:
                return compile_actions(parse_response({"actions": request.get("actions")}))
            except FlowValidationError as exc:
                self.ctx.record_error(exc)
                return CONTINUE
        if command == control.SESSION_DATA:
            apply_session_data(self.ctx, request)
        else:
            log.warning("call %s: unknown control command %r", self.state.call_id, command)
        return CONTINUE

    def _apologise(self) -> None:
        if not self.channel.is_up:
            return
        try:
            self.channel.ensure_answered()
            self.channel.play([Speech(self.services.apology_text)])
        except (CallEnded, ControlInterrupt):
            pass
        finally:
            try:
                self.channel.hangup()
            except CallEnded:
                pass

    # -- the end --------------------------------------------------------------------
    def finish(self) -> None:
        state = self.state
        try:
            if self.channel.is_up:
                self.channel.hangup()
        except CallEnded:
            pass
        # The switch's own hangup time when it told us (the watcher records
        # the same later), so call_ended and the record agree.
        state.end_time = self.channel.ended_at or utcnow()
        state.hangup_cause = getattr(self.channel, "hangup_cause", None) or "NORMAL_CLEARING"
        whole_call.finish(self.ctx, self.whole_call)
        if state.status not in ("rejected", "busy"):
            if self.channel.answered:
                state.status = "completed"
            elif state.hangup_cause == "ORIGINATOR_CANCEL":
                state.status = "canceled"
            else:
                state.status = "completed"
        if self.services.finish_call(state):
            try:
                self.services.callbacks.send(self.target, state.callback_fields("call_ended"))
                self.ctx.trace("callback", {"type": "call_ended", "url": self.target.url, "ok": True})
            except CallbackError as exc:
                self.ctx.trace(
                    "callback", {"type": "call_ended", "url": self.target.url, "ok": False, "error": exc.code}
                )
        try:
            self.channel.close()
        except Exception:  # the socket may be gone already
            log.debug("close failed", exc_info=True)


class _Marker:
    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


DONE = _Marker("DONE")  # the call is over
CONTINUE = _Marker("CONTINUE")  # go on where the flow was
