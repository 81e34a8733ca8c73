"""Queues: QUEUE puts the caller in one of the account's queues until an agent takes it.

The caller holds, hearing the wait flow's SAY/PLAY/PAUSE over and over (a
soft tone when there is none), until an agent's ``TRANSFER`` to
``queue:NAME`` takes it, the ``timeout`` passes or the caller hangs up.
After the agent conversation, or without one, the flow goes on with
``$queue`` and ``queue_result`` (bridged, hangup, timeout, queue_full,
leave, error).
"""

from __future__ import annotations

import time

from ... import control
from ...callbacks import CallbackError, CallbackTarget, decode_json
from ...channel import HOLD_TONE, ControlInterrupt, Silence
from ..errors import ActionFailed, FlowValidationError
from .base import Action, Param, check_url_param, http_url_problem, register

# The hold capability's ends as queue_result says them.
RESULTS = {"taken": "bridged", "hung_up": "hangup", "timeout": "timeout"}
WAIT_ACTIONS = frozenset({"SAY", "PLAY", "PAUSE"})
# How long an agent waits for the caller it took to bridge itself over.
TAKE_WAIT_S = 10.0


@register
class Queue(Action):
    """Put the caller in a queue until an agent takes it (TRANSFER to queue:NAME);
    the flow goes on when they have talked, or when the caller leaves the queue."""

    type = "QUEUE"
    needs_media = True
    params_spec = (
        Param("name", required=True, doc="the queue's name, per account"),
        Param(
            "wait_url",
            doc="a flow of SAY, PLAY and PAUSE the caller hears over and over while waiting "
            "(requested once, with the call's fields; default: a soft tone)",
        ),
        Param("timeout", kind="integer", minimum=1000, maximum=24 * 3600 * 1000, unit="ms", doc="the longest wait"),
        Param(
            "max_size",
            kind="integer",
            default=1000,
            minimum=1,
            maximum=100000,
            doc="callers the queue holds at most; a caller over it does not wait (queue_result queue_full)",
        ),
    )

    def check(self, problems, parser):
        check_url_param(self, problems, "wait_url")

    def run(self, ctx):
        name = self.render(ctx, "name")
        queues, state = ctx.services.queues, ctx.state
        if queues.size(state.account_id, name) >= self.params["max_size"]:
            return self._done(ctx, name, "queue_full", 0.0, 0.0)
        prompts = self._wait_prompts(ctx)
        member = queues.join(state.account_id, name, state.call_id, ctx.channel.info.uuid)
        ctx.trace("queue", {"name": name})
        hold = ctx.start(ctx.channel.holding(), prompts)
        joined = time.monotonic()
        result = "leave"  # live control took the caller out of the queue
        try:
            timeout = self.params["timeout"]
            outcome = self._wait(ctx, hold, member, joined + timeout / 1000.0 if timeout else None)
            result = RESULTS.get(outcome.reason, "error")
        except ControlInterrupt:
            # What live control runs next (a REST take, a redirect) sees why the caller left.
            self._done(ctx, name, result, time.monotonic() - joined, 0.0)
            raise
        finally:
            queues.leave(member, result)
        return self._done(ctx, name, result, outcome.waited_seconds, outcome.talk_seconds)

    @staticmethod
    def _wait(ctx, hold, member: int, deadline: float | None):
        """Hold until taken, the deadline or the caller's hangup.  An agent's
        call that took us asks (queue_take) and we bridge ourselves to it,
        so nothing of ours is running on the channel when it is bridged."""
        while True:
            try:
                return hold.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
            except ControlInterrupt as interrupt:
                request = interrupt.request
                if request.get("command") != control.QUEUE_TAKE:
                    raise
            agent = str(request.get("agent") or "")
            if hold.bridge_to(agent):
                return hold.wait()  # the talk, until one of them hangs up
            # The agent went away before we got to it: back to our place.
            ctx.services.queues.release(member)
            ctx.trace("queue_take_failed", {"agent": agent})

    def _done(self, ctx, name, result, waited, talked):
        ctx.state.queue = {"name": name, "result": result, "wait_seconds": int(waited), "talk_seconds": int(talked)}
        ctx.trace("queue_left", dict(ctx.state.queue))

    def _wait_prompts(self, ctx) -> list:
        url = self.render(ctx, "wait_url")
        if not url:
            return [HOLD_TONE, Silence(2600)]
        where = f"{self.path}/params/wait_url"
        if problem := http_url_problem(url):
            raise ActionFailed(problem, where)
        from ..parser import parse_response  # the parser imports the actions: import it when it runs

        try:
            body, _ = ctx.callbacks.send(CallbackTarget(url, "POST"), ctx.state.callback_fields("queue_wait"))
            actions = parse_response(decode_json(body, url) or [])
        except (CallbackError, FlowValidationError) as exc:
            raise ActionFailed(f"the wait flow at {url} could not be used: {exc}", where) from None
        prompts: list = []
        for action in actions:
            if action.type not in WAIT_ACTIONS:
                raise ActionFailed(f"a wait flow may hold only SAY, PLAY and PAUSE, not {action.type}", where)
            prompts += [Silence(action.params["length"])] if action.type == "PAUSE" else action.prompts(ctx)
        return prompts or [HOLD_TONE, Silence(2600)]


def take_from_queue(ctx, name: str) -> None:
    """An agent's TRANSFER to ``queue:NAME``: take the first waiting caller and
    talk (``$transfer`` as for any TRANSFER; failed when nobody waits).

    The agent holds (``park_after_bridge``) and tells the caller's call,
    which bridges itself to the agent (see :meth:`Queue._wait`)."""
    state = ctx.state
    taken = ctx.services.queues.take(state.account_id, name, state.call_id)
    if taken is None:
        return _agent_done(ctx, name, "failed", "", 0.0, "queue empty")
    caller_call_id, _caller_channel = taken
    ctx.trace("transfer", {"to": f"queue:{name}", "call_ids": [caller_call_id]})
    if not ctx.channel.answered:
        # FreeSWITCH bridges only answered channels: an unanswered agent
        # would end the caller's hold and hang it up (seen on 1.11.1).
        ctx.channel.answer()
    hold = ctx.start(ctx.channel.holding(), [])
    ctx.channel.tell_call(caller_call_id, control.queue_take(ctx.channel.info.uuid))
    if not hold.wait_taken(TAKE_WAIT_S):
        hold.stop("not taken")
        return _agent_done(ctx, name, "failed", caller_call_id, 0.0, "the caller did not come")
    outcome = hold.wait()
    status = "completed" if outcome.reason == "taken" else "failed"
    return _agent_done(ctx, name, status, caller_call_id, outcome.talk_seconds, outcome.reason)


def _agent_done(ctx, name: str, status: str, caller_call_id: str, talk_seconds: float, cause: str) -> None:
    state = ctx.state
    state.transfer = {
        "status": status,
        "duration": int(talk_seconds),
        "call_id": caller_call_id,
        "sip_code": None,
        "to": f"queue:{name}",
    }
    ctx.trace("transfer_ended", {**state.transfer, "cause": cause})
