"""Data in and out of the call: SESSIONDATA and WEBHOOK."""

from __future__ import annotations

from ...callbacks import CallbackError, CallbackTarget
from .. import templates
from ..errors import ActionFailed, ParamRenderFailed
from .base import Action, Param, check_url_param, http_url_problem, register


def render_json(value, ctx, path: str):
    """Fill ``${...}`` placeholders in every string of a JSON value at ``path``.

    A string whose result grows past the limit is a ParamRenderFailed naming
    its own path (``/actions/0/session_data/greeting``).
    """
    if isinstance(value, str):
        if not templates.has_placeholders(value):
            return value
        try:
            return templates.render(value, ctx.lookup)
        except templates.TemplateError as exc:
            raise ParamRenderFailed(exc.message, path) from None
    if isinstance(value, list):
        return [render_json(v, ctx, f"{path}/{i}") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: render_json(v, ctx, f"{path}/{k}") for k, v in value.items()}
    return value


@register
class SessionData(Action):
    """Merge ``session_data`` (at the action's top level, as in the product docs) into the call's."""

    type = "SESSIONDATA"
    top_level_keys = frozenset({"name", "session_data"})
    params_spec = (Param("session_data", "object", doc="data to merge; usually at the action's top level"),)

    def check(self, problems, parser):
        data = self.raw.get("session_data", self.params.get("session_data"))
        if not isinstance(data, dict):
            problems.add(f"{self.path}/session_data", "session_data is required and must be an object")
        self.data = data if isinstance(data, dict) else {}

    def run(self, ctx):
        data = render_json(self.data, ctx, f"{self.path}/session_data")
        ctx.state.merge_session_data(data)
        ctx.trace("session_data", {"keys": sorted(data)})
        ctx.save_progress()


@register
class Webhook(Action):
    """An HTTP request carrying the call's state; optionally waits and saves the JSON answer.

    ``wait`` (default true) waits for the answer (up to ``timeout`` ms);
    with ``save_as`` a JSON answer is stored in session data under that key.
    ``wait: false`` fires and forgets.  A failed webhook never ends the call.
    """

    type = "WEBHOOK"
    params_spec = (
        Param("url", required=True, doc="http or https URL"),
        Param(
            "method",
            default="POST",
            choices=("GET", "POST", "PUT", "PATCH", "DELETE"),
            template=False,
            doc="HTTP method",
        ),
        Param(
            "content_type",
            default="application/json",
            choices=("application/json", "application/xml", "application/x-www-form-urlencoded"),
            template=False,
            doc="encoding of the request",
        ),
        Param("body", "object", doc="extra fields sent with the call's state"),
        Param("wait", "boolean", default=True, doc="wait for the answer; false fires and forgets"),
        Param("save_as", template=False, doc="session_data key for the JSON answer"),
        Param(
            "timeout",
            "integer",
            default=5000,
            minimum=100,
            maximum=60000,
            unit="ms",
            doc="how long to wait for the answer",
        ),
    )

    def check(self, problems, parser):
        check_url_param(self, problems)

    def run(self, ctx):
        url = self.render(ctx, "url")
        if error := http_url_problem(url):
            ctx.record_error(ActionFailed(f"{error}, got {url!r}", f"{self.path}/params/url"))
            return
        target = CallbackTarget(url=url, method=self.params["method"], content_type=self.params["content_type"])
        payload = ctx.state.callback_fields("webhook")
        if self.params["body"]:
            payload.update(render_json(self.params["body"], ctx, f"{self.path}/params/body"))
        timeout = self.params["timeout"] / 1000
        if not self.params["wait"]:
            ctx.callbacks.fire_and_forget(target, payload, timeout=timeout)
            ctx.trace("webhook", {"url": url, "wait": False})
            return
        try:
            answer = ctx.callbacks.request_json(target, payload, timeout=timeout)
        except CallbackError as exc:
            ctx.record_error(ActionFailed(f"webhook failed: {exc.detail}", self.path), url=url)
            return
        ctx.trace("webhook", {"url": url, "wait": True})
        if self.params["save_as"]:
            ctx.state.merge_session_data({self.params["save_as"]: answer})
            ctx.save_progress()
