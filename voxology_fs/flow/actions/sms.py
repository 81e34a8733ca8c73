"""SMS: send a text message from one of the account's numbers.

The message is stored (``GET /v1/Messages``) and sent through the call's
switch as a SIP MESSAGE (or the operator's HTTP SMS provider); the flow goes
on at once: ``status_url`` hears whether the next hop took it (sent) or
refused it (failed), and a provider's receipt (delivered).
"""

from __future__ import annotations

from ..errors import ActionFailed
from .base import Action, Param, check_url_param, http_url_problem, register


@register
class Sms(Action):
    """Send a text message (from the call's api_no to the caller by default)."""

    type = "SMS"
    params_spec = (
        Param("text", required=True, doc="the message (1,600 characters at most)"),
        Param("to", doc="an E.164 number (default: the caller)"),
        Param("from", doc="one of the account's numbers able to send texts (default: the call's api_no)"),
        Param("status_url", doc="requested when the message is sent or fails"),
    )

    def check(self, problems, parser):
        check_url_param(self, problems, "status_url")

    def run(self, ctx):
        state = ctx.state
        text = self.render(ctx, "text") or ""
        to_no = self.render(ctx, "to") or state.caller_no
        from_no = self.render(ctx, "from") or state.api_no
        status_url = self.render(ctx, "status_url")
        if status_url and (error := http_url_problem(status_url)):
            raise ActionFailed(f"{error}, got {status_url!r}", f"{self.path}/params/status_url")
        refused = ctx.services.messages.refusal(state.account_id, from_no, to_no, text)
        if refused is not None:
            field, message = refused
            raise ActionFailed(message, f"{self.path}/params/{field}")
        message_id = ctx.services.messages.queue(
            account_id=state.account_id,
            from_no=from_no,
            to_no=to_no,
            text=text,
            call_id=state.call_id,
            status_url=status_url,
        )
        # Through the switch, or an HTTP provider that the flow does not wait for.
        ctx.services.messages.send(message_id, from_no, to_no, text, ctx.channel.send_text, wait=False)
        ctx.trace("sms", {"message_id": message_id, "to": to_no, "from": from_no})
