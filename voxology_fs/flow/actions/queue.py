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

from ...callbacks import CallbackError, CallbackTarget, decode_json
from ...channel import HOLD_TONE, ControlInterrupt, Silence
from ..errors import ActionFailed, FlowValidationError
from .base import Action, Param, check_url_param, http_url_problem, register

# The hold capability's ends as queue_result says them.
RESULTS = {"taken": "bridged", "hung_up": "hangup", "timeout": "timeout"}
WAIT_ACTIONS = frozenset({"SAY", "PLAY", "PAUSE"})


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
            outcome = hold.wait(timeout / 1000.0 if timeout else None)
            result = RESULTS.get(outcome.reason, "error")
        except ControlInterrupt:
            # What live control runs next (a REST take, a redirect) sees why the caller left.
            self._done(ctx, name, result, time.monotonic() - joined, 0.0)
            raise
        finally:
            queues.leave(member, result)
        return self._done(ctx, name, result, outcome.waited_seconds, outcome.talk_seconds)

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
    talk (``$transfer`` as for any TRANSFER; failed when nobody waits)."""
    state = ctx.state
    taken = ctx.services.queues.take(state.account_id, name, state.call_id)
    if taken is None:
        state.transfer = {"status": "failed", "duration": 0, "call_id": "", "sip_code": None, "to": f"queue:{name}"}
        ctx.trace("transfer_ended", {**state.transfer, "cause": "queue empty"})
        return
    caller_call_id, caller_channel = taken
    ctx.trace("transfer", {"to": f"queue:{name}", "call_ids": [caller_call_id]})
    if not ctx.channel.answered:
        # FreeSWITCH bridges only answered channels: an unanswered agent
        # would end the caller's hold and hang it up (seen on 1.11.1).
        ctx.channel.answer()
    bridge = ctx.channel.bridging()
    ctx.running = bridge
    bridge.join(caller_channel)  # the caller holds for exactly this: it goes on when we hang up
    outcome = bridge.wait()
    state.transfer = {
        "status": "completed" if outcome.status == "completed" else "failed",
        "duration": int(outcome.talk_seconds),
        "call_id": caller_call_id,
        "sip_code": None,
        "to": f"queue:{name}",
    }
    ctx.trace("transfer_ended", {**state.transfer, "cause": outcome.cause})
