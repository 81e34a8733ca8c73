"""A call's state as flows see it: callback fields and flow variables.

This is the one place that defines what a callback request carries and
which variables ``${...}`` templates and IF conditions can read; the docs'
tables are written from it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from .. import numbers
from ..timeutil import iso, utcnow
from .expressions import UNDEFINED


@dataclass
class CallState:
    call_id: str
    direction: str
    caller_no: str
    api_no: str
    app_id: str = ""
    subaccount_id: str = "0"
    account_id: str = ""
    status: str = "live-in-progress"
    detection: str | None = None
    # How a machine's greeting ended, for DETECT's detect_message_end.
    detection_detail: str | None = None
    start_time: dt.datetime = field(default_factory=utcnow)
    answer_time: dt.datetime | None = None
    end_time: dt.datetime | None = None
    hangup_cause: str | None = None
    session_data: dict | None = None
    custom_data: Any = None
    # Every COLLECT result of the call, most recent first.
    key_presses: list[dict] = field(default_factory=list)
    recordings: list[dict] = field(default_factory=list)
    sip_domain: str = ""
    sip_forwarded_for: str = ""
    errors: list[dict] = field(default_factory=list)
    # The last TRANSFER's outcome: status, duration (talk seconds), call_id, sip_code, to.
    transfer: dict | None = None
    # The last CONFERENCE's outcome: name, end_reason, seconds (in the room).
    conference: dict | None = None
    # The last QUEUE's outcome: name, result, wait_seconds, talk_seconds.
    queue: dict | None = None
    # While a QUEUE's wait flow runs: position, size, time and average_wait (s).
    queue_wait: dict | None = None
    # The last DIAL's outcome: call_id, status, sip_code, duration (talk seconds when connected).
    dial: dict | None = None
    # A call placed by another's DIAL: that call, and whether this one joins
    # its caller when its own actions run out (connect).
    parent_call_id: str | None = None
    connect_to: str | None = None
    # A recording of the whole call from its start: "mono" or "dual" (Make Call's record).
    record_call: str | None = None
    # Answering-machine detection before init_call: a DETECT mode (Make Call's detection).
    detect_mode: str | None = None
    # FOREACH item and index variables in scope, innermost last.
    locals: dict = field(default_factory=dict)

    # -- changes ----------------------------------------------------------------
    def merge_session_data(self, data: dict) -> None:
        merged = dict(self.session_data or {})
        merged.update(data)
        self.session_data = merged

    def add_key_press(self, name: str | None, digits: str) -> None:
        self.key_presses.insert(0, {"name": name, "digits": digits})

    def add_error(self, record: dict) -> None:
        self.errors.append(record)

    # -- derived ----------------------------------------------------------------
    def duration_ms(self, now: dt.datetime | None = None) -> int:
        end = self.end_time or now or utcnow()
        return max(0, int((end - self.start_time).total_seconds() * 1000))

    @property
    def latest_digits(self) -> str:
        return self.key_presses[0]["digits"] if self.key_presses else ""

    def callback_fields(self, kind: str) -> dict:
        """The body of a callback request of type ``kind``."""
        caller = numbers.geography(self.caller_no)
        api = numbers.geography(self.api_no)
        body = {
            "type": kind,
            "app_id": self.app_id,
            "subaccount_id": self.subaccount_id,
            "call_id": self.call_id,
            "start_time": iso(self.start_time),
            "direction": self.direction,
            "duration": self.duration_ms(),
            "status": self.status,
            "detection": self.detection,
            "caller_no": self.caller_no,
            "caller_no_city": caller.city,
            "caller_no_region": caller.region,
            "caller_no_country": caller.country,
            "caller_no_timezone": caller.timezone,
            "api_no": self.api_no,
            "api_no_city": api.city,
            "api_no_region": api.region,
            "api_no_country": api.country,
            "api_no_timezone": api.timezone,
            "key_presses": [dict(k) for k in self.key_presses],
            "recordings": [dict(r) for r in self.recordings],
            "custom_data": self.custom_data,
            "session_data": self.session_data,
            "end_time": iso(self.end_time),
            "sip_domain": self.sip_domain,
            "sip_forwarded_for": self.sip_forwarded_for,
        }
        if self.transfer is not None:
            body.update({f"transfer_{k}": self.transfer.get(k) for k in ("status", "duration", "call_id", "sip_code")})
            if "detection" in self.transfer:
                body["transfer_detection"] = self.transfer["detection"]
        if self.conference is not None:
            body["conference_end_reason"] = self.conference.get("end_reason")
            if self.conference.get("recording_id"):
                body["conference_recording_id"] = self.conference["recording_id"]
        if self.queue is not None:
            body["queue_result"] = self.queue.get("result")
        if self.queue_wait is not None:
            body.update({f"queue_{k}": v for k, v in self.queue_wait.items()})
        if self.dial is not None:
            body.update({f"dial_{k}": self.dial.get(k) for k in ("call_id", "status", "sip_code", "duration")})
        if self.detection_detail is not None:
            body["detection_detail"] = self.detection_detail
        if self.parent_call_id:
            body["parent_call_id"] = self.parent_call_id
        if kind == "call_ended":
            body["hangup_cause"] = self.hangup_cause
        return body

    # -- variables ----------------------------------------------------------------
    def lookup(self, name: str) -> Any:
        """The value of a root variable for templates and conditions."""
        if name in self.locals:
            return self.locals[name]
        getter = _NATIVE.get(name)
        if getter is not None:
            return getter(self)
        for press in self.key_presses:
            if press.get("name") == name:
                return press["digits"]
        return UNDEFINED


def _geo(attr: str, which: str):
    return lambda s: getattr(numbers.geography(getattr(s, which)), attr)


# The native variables.  camelCase names as in the product docs; the
# snake_case callback names work too.
_NATIVE = {
    "callId": lambda s: s.call_id,
    "appId": lambda s: s.app_id,
    "subaccountId": lambda s: s.subaccount_id,
    "direction": lambda s: s.direction,
    "status": lambda s: s.status,
    "detection": lambda s: s.detection,
    "detectionDetail": lambda s: s.detection_detail,
    "callerNo": lambda s: s.caller_no,
    "callerNoCity": _geo("city", "caller_no"),
    "callerNoRegion": _geo("region", "caller_no"),
    "callerNoCountry": _geo("country", "caller_no"),
    "callerNoTimezone": _geo("timezone", "caller_no"),
    "apiNo": lambda s: s.api_no,
    "apiNoCity": _geo("city", "api_no"),
    "apiNoRegion": _geo("region", "api_no"),
    "apiNoCountry": _geo("country", "api_no"),
    "apiNoTimezone": _geo("timezone", "api_no"),
    "startTime": lambda s: iso(s.start_time),
    "answerTime": lambda s: iso(s.answer_time),
    "callTime": lambda s: s.duration_ms(),
    "keyPresses": lambda s: s.latest_digits,
    "keyPressesList": lambda s: s.key_presses,
    "collected": lambda s: {k["name"]: k["digits"] for k in reversed(s.key_presses) if k.get("name")},
    "recordings": lambda s: s.recordings,
    "sessionData": lambda s: s.session_data if s.session_data is not None else {},
    "customData": lambda s: s.custom_data,
    "sipDomain": lambda s: s.sip_domain,
    "transfer": lambda s: dict(s.transfer) if s.transfer is not None else {},
    "dial": lambda s: dict(s.dial) if s.dial is not None else {},
    "conference": lambda s: dict(s.conference) if s.conference is not None else {},
    "queue": lambda s: dict(s.queue) if s.queue is not None else {},
    "queuePosition": lambda s: (s.queue_wait or {}).get("position"),
    "queueSize": lambda s: (s.queue_wait or {}).get("size"),
    "queueTime": lambda s: (s.queue_wait or {}).get("time"),
    "queueAverageWait": lambda s: (s.queue_wait or {}).get("average_wait"),
    "dialCallId": lambda s: s.dial["call_id"] if s.dial is not None else "",
    "parentCallId": lambda s: s.parent_call_id or "",
}
for _camel, _snake in [
    ("callId", "call_id"),
    ("appId", "app_id"),
    ("subaccountId", "subaccount_id"),
    ("callerNo", "caller_no"),
    ("apiNo", "api_no"),
    ("startTime", "start_time"),
    ("sessionData", "session_data"),
    ("customData", "custom_data"),
    ("keyPressesList", "key_presses"),
    ("sipDomain", "sip_domain"),
    ("dialCallId", "dial_call_id"),
    ("parentCallId", "parent_call_id"),
    ("detectionDetail", "detection_detail"),
]:
    _NATIVE[_snake] = _NATIVE[_camel]

NATIVE_VARIABLES = tuple(_NATIVE)
