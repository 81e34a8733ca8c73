"""Live control: the requests the REST API sends to a running call.

Hangup, Redirect, Actions and SessionData reach a call wherever it runs as
a ``sendevent CUSTOM`` of subclass ``voxology::control`` on the call's
switch.  The event's ``Vox-Call-ID`` header names the call (the call's
socket subscribed to exactly that), ``Vox-Command`` the command, and the
body is the request as JSON.  A request is a dict with ``command`` and the
command's fields; this module builds them (checking what the API takes),
encodes them as event headers and body, and decodes them back on the call.
"""

from __future__ import annotations

import json

from .callbacks import CONTENT_TYPES

SUBCLASS = "voxology::control"
CALL_ID_HEADER = "Vox-Call-ID"
COMMAND_HEADER = "Vox-Command"

HANGUP = "hangup"
REDIRECT = "redirect"
ACTIONS = "actions"
SESSION_DATA = "session_data"
# Sent by an agent's call, never by the API: "bridge yourself to my channel".
QUEUE_TAKE = "queue_take"
COMMANDS = frozenset({HANGUP, REDIRECT, ACTIONS, SESSION_DATA, QUEUE_TAKE})
# Applied between two actions; what plays meanwhile goes on. The others
# interrupt the media at once.
NON_INTERRUPTING = frozenset({SESSION_DATA})

METHODS = ("GET", "POST")
MAX_SESSION_DATA = 64 * 1024
MAX_ACTIONS = 4 * MAX_SESSION_DATA


class ControlError(ValueError):
    """A request that cannot be sent or was not understood; ``field`` names the culprit."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def interrupts(request: dict) -> bool:
    """Whether the request stops what the call is playing."""
    return request.get("command") not in NON_INTERRUPTING


# -- building requests (the API side) ----------------------------------------------------
def hangup() -> dict:
    return {"command": HANGUP}


def redirect(url: str, method: str = "POST", content_type: str | None = None) -> dict:
    """Fetch the call's next actions from ``url`` instead of going on."""
    from .flow.actions.base import http_url_problem

    if problem := http_url_problem(url):
        raise ControlError("url", f"url: {problem}")
    if method not in METHODS:
        raise ControlError("method", "method must be GET or POST")
    request = {"command": REDIRECT, "url": url, "method": method}
    if content_type is not None:
        if content_type not in CONTENT_TYPES:
            raise ControlError("content_type", "content_type must be one of " + ", ".join(CONTENT_TYPES))
        request["content_type"] = content_type
    return request


def actions(flow_actions) -> dict:
    """Run these call flow actions now, in place of what the call was doing."""
    from .flow.errors import FlowValidationError
    from .flow.parser import parse_response

    if not isinstance(flow_actions, list) or not flow_actions:
        raise ControlError("actions", "actions must be a non-empty array of call flow actions")
    try:
        parse_response({"actions": flow_actions})
    except FlowValidationError as exc:
        raise ControlError(exc.path.strip("/").replace("/", ".") or "actions", exc.message) from None
    if len(json.dumps(flow_actions)) > MAX_ACTIONS:
        raise ControlError("actions", "the actions are too large")
    return {"command": ACTIONS, "actions": flow_actions}


def queue_take(agent_channel: str) -> dict:
    """An agent took this waiting caller: it bridges itself to ``agent_channel``."""
    return {"command": QUEUE_TAKE, "agent": agent_channel}


def check_session_data(data: dict, field: str = "session_data") -> dict:
    """Session data small enough to carry (in an event, or on a call's record)."""
    if len(json.dumps(data)) > MAX_SESSION_DATA:
        raise ControlError(field, f"{field} is larger than {MAX_SESSION_DATA} bytes")
    return data


def session_data(data: dict) -> dict:
    """Merge ``data`` into the call's session data before its next action."""
    return {"command": SESSION_DATA, "session_data": check_session_data(data)}


# -- the wire -------------------------------------------------------------------------
def encode(call_id: str, request: dict) -> tuple[dict[str, str], str]:
    """The headers and body of the CUSTOM event that carries ``request`` to call ``call_id``."""
    command = request.get("command")
    if command not in COMMANDS:
        raise ControlError("command", f"unknown control command {command!r}")
    headers = {"Event-Subclass": SUBCLASS, CALL_ID_HEADER: call_id, COMMAND_HEADER: command}
    return headers, json.dumps(request, separators=(",", ":"))


def decode(body: str | None, command_header: str = "") -> dict:
    """The request an event carries; ControlError when it is not one we send."""
    try:
        request = json.loads(body) if body else {}
    except (ValueError, RecursionError):  # RecursionError: nested too deep to decode
        raise ControlError("body", "the control message is not JSON") from None
    if not isinstance(request, dict):
        raise ControlError("body", "the control message is not a JSON object")
    request.setdefault("command", command_header)
    if request["command"] not in COMMANDS:
        raise ControlError("command", f"unknown control command {request['command']!r}")
    return request
