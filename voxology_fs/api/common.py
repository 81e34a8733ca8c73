"""What the blueprints share: request parsing and validation, the account's records, the
switches, and the JSON shapes of resources."""

from __future__ import annotations

import datetime as dt
import json
import math
from contextlib import contextmanager
from typing import Literal, overload

from flask import current_app, g, request

from .. import db, numbers
from ..callbacks import CallbackClient
from ..flow.actions.base import http_url_problem
from ..switch_errors import SwitchUnavailable
from ..timeutil import iso, parse_iso
from .errors import ApiError, bad_field, not_found

MAX_BODY = 1024 * 1024
METHODS = ("GET", "POST")


def settings():
    return current_app.config["VOX_SETTINGS"]


def json_body(required: bool = True) -> dict:
    """The request's JSON object; 415 for another media type, 400 for bad JSON."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        if required:
            raise ApiError(400, "invalid_json", "a JSON object is required as the request body")
        return {}
    if request.mimetype != "application/json":
        raise ApiError(
            415, "unsupported_media_type", f"the body must be application/json, not {request.mimetype or 'unlabelled'}"
        )
    if len(raw) > MAX_BODY:
        raise ApiError(413, "too_large", f"the body is larger than {MAX_BODY} bytes")
    try:
        doc = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    return doc


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def _given(parent: dict, key: str, path: str, required: bool):
    """The value at ``key``; None when absent, 400 when absent but required."""
    value = parent.get(key)
    if value is None and required:
        raise bad_field(path, f"{path} is required")
    return value


# A required field is never None: the overloads tell the type checker so.
@overload
def obj(parent: dict, key: str, path: str, required: Literal[True]) -> dict: ...
@overload
def obj(parent: dict, key: str, path: str, required: bool = False) -> dict | None: ...
def obj(parent: dict, key: str, path: str, required: bool = False) -> dict | None:
    value = _given(parent, key, path, required)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise bad_field(path, f"{path} must be an object")
    return value


@overload
def string(parent: dict, key: str, path: str, required: Literal[True], max_length: int = 2048) -> str: ...
@overload
def string(parent: dict, key: str, path: str, required: bool = False, max_length: int = 2048) -> str | None: ...
def string(parent: dict, key: str, path: str, required: bool = False, max_length: int = 2048) -> str | None:
    value = _given(parent, key, path, required)
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_field(path, f"{path} must be a string")
    if len(value) > max_length:
        raise bad_field(path, f"{path} is longer than {max_length} characters")
    if "\x00" in value:
        raise bad_field(path, f"{path} contains a NUL character")
    return value


def method_field(doc: dict, path: str, default: str, key: str = "method") -> str:
    """An HTTP method for a callback (``doc[key]``): GET or POST."""
    value = string(doc, key, path, max_length=8)
    if value is None:
        return default
    if value.upper() not in METHODS:
        raise bad_field(path, f"{path} must be GET or POST")
    return value.upper()


def url_field(doc: dict, path: str, required: bool, key: str = "url") -> str | None:
    """An http(s) URL for a callback (``doc[key]``)."""
    value = string(doc, key, path, required=required, max_length=2048)
    if value is None:
        return None
    value = value.strip()
    problem = http_url_problem(value)
    if problem:
        raise bad_field(path, f"{path}: {problem}")
    return value


def integer(parent: dict, key: str, path: str, minimum: int, maximum: int, default=None):
    value = parent.get(key)
    if value is None:
        return default
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (isinstance(value, float) and (not math.isfinite(value) or value != int(value)))
    ):
        raise bad_field(path, f"{path} must be an integer")
    value = int(value)
    if not minimum <= value <= maximum:
        raise bad_field(path, f"{path} must be between {minimum} and {maximum}")
    return value


def phone_number(text, path: str) -> str:
    """A number as E.164, or 400 naming the field."""
    if not isinstance(text, str):
        raise bad_field(path, f"{path} must be a phone number string")
    try:
        return numbers.normalize(text, settings().default_region)
    except numbers.InvalidNumber as exc:
        raise bad_field(path, f"{path}: {exc}") from None


def query_int(name: str, default: int, minimum: int, maximum: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_field(name, f"{name} must be an integer") from None
    if not minimum <= value <= maximum:
        raise bad_field(name, f"{name} must be between {minimum} and {maximum}")
    return value


def time_param(name: str) -> dt.datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        return parse_iso(raw)
    except ValueError:
        raise bad_field(name, f"{name} must be an ISO 8601 time, e.g. 2030-09-20T21:32:28Z") from None


def pagination() -> tuple[int, int]:
    page = query_int("page", 1, 1, 10**6)
    size = query_int("page_size", 50, 1, settings().api_max_page_size)
    return page, size


def page_of(key: str, items: list, page: int, size: int, total: int) -> dict:
    return {key: items, "page": page, "page_size": size, "total": total, "has_more": page * size < total}


def paged(key: str, query, order_by, to_json) -> dict:
    """One page (``page``, ``page_size`` from the query string) of ``query`` as JSON."""
    page, size = pagination()
    with db.database.connection_context():
        total = query.count()
        rows = list(query.order_by(*order_by).paginate(page, size))
    return page_of(key, [to_json(r) for r in rows], page, size, total)


def location(number: str) -> dict:
    geo = numbers.geography(number)
    return {"city": geo.city, "region": geo.region, "country": geo.country, "timezone": geo.timezone}


def number_json(phone) -> dict:
    caps = [c for c in (phone.capabilities or "").replace(";", ",").split(",") if c]
    return {
        "no": phone.number,
        "capabilities": caps,
        "country": phone.country,
        "service": phone.service,
        "application_id": phone.application_id,
        "assigned_at": iso(phone.assigned_at),
        "location": location(phone.number),
    }


def config_json(config) -> dict:
    fallback = None
    if config.fallback_url:
        fallback = {"url": config.fallback_url, "method": config.fallback_method or config.method}
    return {
        "no": config.phone_number_id,
        "callback": {"method": config.method, "url": config.url, "content_type": config.content_type},
        "fallback": fallback,
        "updated_at": iso(config.updated_at),
    }


def talk_time_ms(call) -> int | None:
    """Milliseconds from the answer to the end, once a call has both."""
    if call.answer_time is None or call.end_time is None:
        return None
    return max(0, int((call.end_time - call.answer_time).total_seconds() * 1000))


def call_json(call) -> dict:
    return {
        "call_id": call.id,
        "app_id": call.application_id,
        "direction": call.direction,
        "status": call.status,
        "caller_no": call.caller_no,
        "api_no": call.api_no,
        "to_no": call.to_no or None,
        "start_time": iso(call.start_time),
        "answer_time": iso(call.answer_time),
        "end_time": iso(call.end_time),
        "duration": call.duration_ms,
        "talk_time": talk_time_ms(call),
        "hangup_cause": call.hangup_cause,
        "session_data": call.session_data,
        "custom_data": call.custom_data,
        "key_presses": call.key_presses or [],
        "recordings": call.recordings or [],
        "detection": call.detection,
        "errors": call.errors or [],
        "timeout": call.timeout_s,
        "max_call_time": call.max_call_time_ms,
    }


def account_id() -> str:
    return g.account_id


def owned(model, where, message: str, field: str):
    """The record of this account that matches ``where``, or 404: another account's is not found either."""
    with db.database.connection_context():
        record = model.get_or_none(where, model.account == account_id())
    if record is None:
        raise not_found(message, field)
    return record


def per_worker(key: str, make):
    """What this worker builds once and keeps (a book with its callback
    client, an audio cache): ``make(settings)`` the first time."""
    found = current_app.config.get(key)
    if found is None:
        found = current_app.config[key] = make(settings())
    return found


def callbacks():
    """This worker's callback client (status URLs, conference events)."""
    return per_worker("VOX_CALLBACKS", CallbackClient.from_settings)


def switches():
    """This process's links to the switches; 503 when it has none."""
    found = current_app.config.get("VOX_SWITCHES")
    if found is None:
        raise ApiError(503, "switch_unavailable", "this API process has no FreeSWITCH connection configured")
    return found


@contextmanager
def switch_errors():
    """Turn a switch that cannot be reached now into 503 with Retry-After."""
    try:
        yield
    except SwitchUnavailable as exc:
        raise ApiError(503, "switch_unavailable", str(exc), headers={"Retry-After": "5"}) from None
