"""Placing a new call from inside a flow: DIAL.

The new call is a full call of the account (a record with ``parent_call_id``,
a trace, its own ``call_ended``), running its own flow: the ``url`` given, or
its caller ID's configuration.  The flow that placed it goes on at once with
``$dialCallId``, or waits until it answered or ended (``wait_for``).  With
``connect`` the caller waits, hearing ringing, until the new call's own
actions run out; then the two talk, and the flow goes on when the new call
hangs up.
"""

from __future__ import annotations

from ...channel import RINGING
from ..errors import ActionFailed, CallRefused
from .base import Action, Param, check_url_param, http_url_problem, register
from .connect import E164, shown_caller_id

# The capability's statuses as the callbacks write them.
DIAL_STATUS = {"no_answer": "no-answer"}


@register
class Dial(Action):
    """Start a new outbound call that runs its own flow; the flow goes on at
    once, or when the new call answered or ended (``wait_for``).  With
    ``connect`` the caller joins the new call when its own actions run out."""

    type = "DIAL"
    params_spec = (
        Param("to", required=True, doc="the E.164 number to call"),
        Param(
            "caller_id_no",
            doc="the number the called party sees: one of the account's numbers or a verified caller ID "
            "(default: the call's api_no); without url, its call flow configuration runs the new call",
        ),
        Param("url", doc="the flow of the new call (default: the configuration of caller_id_no)"),
        Param("method", default="POST", choices=("GET", "POST"), template=False, doc="how url is requested"),
        Param("session_data", kind="object", doc="the new call's session data ($sessionData)"),
        Param("timeout", kind="integer", default=30, minimum=1, maximum=600, unit="s", doc="how long it rings"),
        Param(
            "max_call_time",
            kind="integer",
            minimum=1000,
            maximum=4 * 3600 * 1000,
            unit="ms",
            doc="the longest the new call may last once answered",
        ),
        Param(
            "wait_for",
            choices=("answered", "ended"),
            template=False,
            doc="wait until the new call answered (or failed), or until it ended; default: go on at once",
        ),
        Param(
            "connect",
            kind="boolean",
            default=False,
            doc="the caller hears ringing and joins the new call when the new call's own actions run out "
            "(without HANGUP or REJECT); the flow goes on when the new call hangs up",
        ),
    )

    def check(self, problems, parser):
        check_url_param(self, problems)
        to = self.params["to"]
        if to is not None and not to.variables:
            number = to.render(lambda name: None)
            if not E164.match(number):
                problems.add(
                    f"{self.path}/params/to", f"to must be an E.164 number such as +13125550100, got {number!r}"
                )
        if self.params["connect"] and self.params["wait_for"] == "answered":
            problems.add(f"{self.path}/params/wait_for", "connect waits until the new call ended: leave wait_for out")

    def run(self, ctx):
        if ctx.services.prepare_dial is None:
            raise ActionFailed("this call cannot place calls", self.path)
        number = self.render(ctx, "to")
        if not E164.match(number or ""):
            raise ActionFailed(f"to must be an E.164 number such as +13125550100, got {number!r}", self._at("to"))
        caller_id = shown_caller_id(self, ctx)
        url = self.render(ctx, "url")
        if url and (problem := http_url_problem(url)):
            raise ActionFailed(problem, self._at("url"))
        connect = bool(self.params["connect"])
        try:
            call_id = ctx.services.prepare_dial(
                ctx.state,
                to_no=number,
                caller_id_no=caller_id,
                url=url,
                method=self.params["method"],
                session_data=self.params["session_data"],
                timeout_s=self.params["timeout"],
                max_call_time_ms=self.params["max_call_time"],
                connect=connect,
            )
        except CallRefused as exc:
            raise ActionFailed(str(exc), self.path) from None
        ctx.state.dial = {"call_id": call_id, "status": "queued", "sip_code": None, "duration": 0, "to": number}
        ctx.trace("dial", {"to": number, "caller_id_no": caller_id, "call_id": call_id, "connect": connect})
        if connect and not ctx.channel.answered:
            ctx.channel.answer()  # the caller hears our ringing while the new call's flow runs
        dialing = ctx.start(
            ctx.channel.dialing(),
            call_id,
            number,
            caller_id=caller_id,
            ring_timeout_s=self.params["timeout"],
            wait_for=self.params["wait_for"] or "",
            connect_prompts=[RINGING] if connect else None,
        )
        outcome = dialing.wait()
        ctx.state.dial = {
            "call_id": call_id,
            "status": DIAL_STATUS.get(outcome.status, outcome.status),
            "sip_code": outcome.sip_code,
            "duration": int(outcome.talk_seconds),
            "to": number,
            "connected": outcome.connected,
        }
        ctx.trace("dial_ended", {**ctx.state.dial, "cause": outcome.cause})

    def _at(self, name: str) -> str:
        return f"{self.path}/params/{name}"
