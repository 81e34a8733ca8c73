"""Ending and steering the call: HANGUP, REJECT, STOP, REDIRECT."""

from __future__ import annotations

from ..errors import ActionFailed
from ..program import Hangup as HangupSignal
from ..program import Redirect as RedirectSignal
from ..program import Stop as StopSignal
from .base import Action, Param, check_url_param, http_url_problem, register

REJECT_CODES = {"busy": 486, "rejected": 603}


@register
class Hangup(Action):
    """End the call."""

    type = "HANGUP"
    params_spec = ()

    def run(self, ctx):
        ctx.trace("hangup", {})
        ctx.channel.hangup("NORMAL_CLEARING")
        return HangupSignal()


@register
class Reject(Action):
    """Refuse the call before it is answered: SIP 486 (busy) or 603 (rejected)."""

    type = "REJECT"
    params_spec = (
        Param(
            "reason",
            default="rejected",
            choices=tuple(REJECT_CODES),
            template=False,
            doc="busy: SIP 486; rejected: SIP 603",
        ),
    )

    def run(self, ctx):
        reason = self.params["reason"]
        ctx.trace("reject", {"reason": reason, "answered": ctx.channel.answered})
        ctx.state.status = "busy" if reason == "busy" else "rejected"
        ctx.channel.reject(REJECT_CODES[reason])
        return HangupSignal()


@register
class Stop(Action):
    """Stop this response's actions and ask for more with ``continue_call``."""

    type = "STOP"
    params_spec = ()

    def run(self, ctx):
        ctx.trace("stop", {})
        return StopSignal()


@register
class Redirect(Action):
    """Fetch a call flow from ``url`` and run it instead of what remains."""

    type = "REDIRECT"
    params_spec = (
        Param("url", required=True, doc="http or https URL of the next flow"),
        Param("method", default="POST", choices=("GET", "POST"), template=False, doc="HTTP method"),
        Param(
            "content_type",
            choices=("application/json", "application/xml", "application/x-www-form-urlencoded"),
            template=False,
            doc="encoding of the request; the configuration's when absent",
        ),
    )

    def check(self, problems, parser):
        check_url_param(self, problems)

    def run(self, ctx):
        url = self.render(ctx, "url")
        if error := http_url_problem(url):
            raise ActionFailed(f"{error}, got {url!r}", f"{self.path}/params/url")
        ctx.trace("redirect", {"url": url})
        return RedirectSignal(url, self.params["method"], self.params["content_type"])
