"""Queues: QUEUE puts the caller in one of the account's queues until an agent takes it.

The caller holds, hearing the wait flow (see :mod:`..queue_wait`; a soft
tone when there is none), until an agent's ``TRANSFER`` to
``queue:NAME`` takes it, the ``timeout`` passes or the caller hangs up.
After the agent conversation, or without one, the flow goes on with
``$queue`` and ``queue_result`` (bridged, hangup, timeout, queue_full,
leave, error).
"""

from __future__ import annotations

import dataclasses
import time

from ... import control
from ...channel import HOLD_TONE, CallEnded, ControlInterrupt, Silence
from ..errors import ActionFailed
from ..program import Leave as LeaveSignal
from ..queue_wait import WaitFlow
from .base import Action, Param, check_url_param, http_url_problem, register

# The hold capability's ends as queue_result says them.
RESULTS = {"taken": "bridged", "hung_up": "hangup", "timeout": "timeout", "leave": "leave"}
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
            doc="a flow the caller hears while waiting, requested again each time it ends (type "
            "queue_wait, with queue_position, queue_size, queue_time and queue_average_wait): SAY, "
            "PLAY, PAUSE, COLLECT, IF, GOTO, LABEL and LEAVE (leave the queue; the flow goes on). "
            "Default: a soft tone",
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
        url = self.render(ctx, "wait_url")
        if url and (problem := http_url_problem(url)):
            raise ActionFailed(problem, self._where)
        member = queues.join(state.account_id, name, state.call_id, ctx.channel.info.uuid)
        ctx.trace("queue", {"name": name})
        joined = time.monotonic()
        timeout = self.params["timeout"]
        deadline = joined + timeout / 1000.0 if timeout else None
        result = "leave"  # live control took the caller out of the queue
        try:
            outcome = None
            if url:
                take = lambda agent: self._take(ctx, member, agent, joined)  # noqa: E731
                outcome = WaitFlow(ctx, url, name, member, self._where).run(deadline, take)
            if outcome is None:  # no wait flow, or one that could not be used: the soft tone
                hold = ctx.start(ctx.channel.holding(), [HOLD_TONE, Silence(2600)])
                outcome = self._wait(ctx, hold, member, deadline)
            result = RESULTS.get(outcome.reason, "error")
        except ControlInterrupt:
            # What live control runs next (a REST take, a redirect) sees why the caller left.
            self._done(ctx, name, result, time.monotonic() - joined, 0.0)
            raise
        except CallEnded:
            result = "hangup"
            raise
        finally:
            queues.leave(member, result)
        return self._done(ctx, name, result, outcome.waited_seconds, outcome.talk_seconds)

    @property
    def _where(self) -> str:
        return f"{self.path}/params/wait_url"

    @staticmethod
    def _take(ctx, member: int, agent: str, joined: float):
        """The agent that took us, from a wait flow: bridge to it and talk; None when it went away."""
        taken_at = time.monotonic()
        hold = ctx.start(ctx.channel.holding(), [])
        if hold.bridge_to(agent):
            return dataclasses.replace(hold.wait(), waited_seconds=round(taken_at - joined, 3))
        ctx.stop_running("not taken")
        ctx.services.queues.release(member)
        ctx.trace("queue_take_failed", {"agent": agent})
        return None

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


@register
class Leave(Action):
    """In a QUEUE's wait flow: take the caller out of the queue; the flow goes on after the QUEUE."""

    type = "LEAVE"
    params_spec = ()

    def run(self, ctx):
        if ctx.state.queue_wait is None:
            raise ActionFailed("LEAVE works only in a QUEUE's wait flow", self.path)
        ctx.trace("queue_leave", {})
        return LeaveSignal()
