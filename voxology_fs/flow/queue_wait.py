"""QUEUE's wait flow, run step by step while the caller waits.

Each round requests ``wait_url`` (a ``queue_wait`` request carrying
``queue_position``, ``queue_size``, ``queue_time`` and
``queue_average_wait``, also ``$queuePosition`` and the like in the flow)
and runs its SAY, PLAY, PAUSE, COLLECT, IF, GOTO, LABEL and LEAVE actions;
then the next round asks again, so the customer's server can say where the
caller is and act on the keys it pressed.  Nothing polls: an agent taking
the caller is a control event that breaks off what plays (as live control
does), and the timeout is one timer of ours that does the same.  LEAVE
takes the caller out of the queue and the flow goes on.
"""

from __future__ import annotations

import time

import gevent

from .. import control
from ..callbacks import CallbackError, CallbackTarget, decode_json
from ..capabilities import HoldOutcome
from ..channel import HOLD_TONE, ControlInterrupt, Silence
from .errors import ActionFailed, FlowValidationError
from .program import Leave, execute

ALLOWED = frozenset({"SAY", "PLAY", "PAUSE", "COLLECT", "IF", "GOTO", "LABEL", "LEAVE"})
# Our own interrupt at the wait's deadline (never sent by the REST API).
TIMEOUT = "queue_timeout"
BROKEN = object()  # a round after which the wait goes on without the wait flow
# A round shorter than this is followed by the soft tone.
MIN_ROUND_S = 1.0


class WaitFlow:
    """The caller's wait in one queue, with the customer's wait flow."""

    def __init__(self, ctx, url: str, name: str, member: int, where: str):
        self.ctx = ctx
        self.url = url
        self.name = name
        self.member = member
        self.where = where  # the wait_url param's JSON path, for errors
        self.joined = time.monotonic()
        self._timeout = {"command": TIMEOUT}

    def run(self, deadline: float | None, take) -> HoldOutcome | None:
        """Rounds of the wait flow until the caller is taken (``take(agent)``
        bridges and returns the hold's outcome, or None when the agent went
        away), leaves, times out or hangs up.  None: the wait flow could not
        be used (the error is on the call; or this is the simulator, which
        runs one round) and the caller waits on, as without one."""
        timer = None
        if deadline is not None:
            timer = gevent.spawn_later(max(0.0, deadline - time.monotonic()), self.ctx.channel.interrupt, self._timeout)
        try:
            while True:
                try:
                    ended = self._round()
                    if ended is BROKEN:
                        return None
                    if ended is not None:
                        return self._ended("leave")
                except ControlInterrupt as interrupt:
                    request = interrupt.request
                    if request.get("command") == TIMEOUT:
                        return self._ended("timeout")
                    if request.get("command") != control.QUEUE_TAKE:
                        raise  # live control: the caller leaves the queue
                    if timer is not None:
                        timer.kill()  # taken: the wait is over, whatever comes of it
                    outcome = take(str(request.get("agent") or ""))
                    if outcome is not None:
                        return outcome
                    if deadline is not None:
                        timer = gevent.spawn_later(
                            max(0.0, deadline - time.monotonic()), self.ctx.channel.interrupt, self._timeout
                        )
        finally:
            if timer is not None:
                timer.kill()
            # A deadline that came as the wait ended must not cut what plays next.
            self.ctx.channel.withdraw(self._timeout)
            self.ctx.state.queue_wait = None

    def _round(self):
        """One request and its actions; a Leave signal, or None to go on waiting."""
        ctx = self.ctx
        ctx.state.queue_wait = self._figures()
        began = time.monotonic()
        program = self._fetch()
        if program is None:
            return BROKEN
        outcome = execute(program, ctx, ctx.services.max_steps) if len(program) else None
        if isinstance(outcome, Leave):
            return outcome
        if not ctx.channel.media_takes_time:
            return BROKEN  # the simulator: one round, then the hold decides
        if time.monotonic() - began < MIN_ROUND_S:
            # A round that played (next to) nothing: the soft tone before the
            # next request, so the customer's server is not asked in a loop.
            ctx.channel.play([HOLD_TONE, Silence(2600)])
        return None

    def _figures(self) -> dict:
        queues, state = self.ctx.services.queues, self.ctx.state
        position, size, average = queues.standing(state.account_id, self.name, self.member)
        return {
            "position": position,
            "size": size,
            "time": int(time.monotonic() - self.joined),
            "average_wait": average,
        }

    def _fetch(self):
        from .parser import action_types, compile_actions, parse_response  # the parser imports the actions

        ctx = self.ctx
        try:
            body, _ = ctx.callbacks.send(CallbackTarget(self.url, "POST"), ctx.state.callback_fields("queue_wait"))
            actions = parse_response(decode_json(body, self.url) or [])
        except (CallbackError, FlowValidationError) as exc:
            # The caller keeps its place: a broken wait flow is an error, and silence, not a lost call.
            ctx.record_error(ActionFailed(f"the wait flow at {self.url} could not be used: {exc}", self.where))
            return None
        refused = [(t, path) for t, path in action_types(actions) if t not in ALLOWED]
        if refused:
            kind, path = refused[0]
            ctx.record_error(ActionFailed(f"a wait flow may not hold {kind}", path))
            return None
        return compile_actions(actions)

    def _ended(self, reason: str) -> HoldOutcome:
        return HoldOutcome(reason, "", round(time.monotonic() - self.joined, 3))
