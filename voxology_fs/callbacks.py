"""HTTP requests to the customer's server: callbacks and webhooks.

One of the few modules that touch the network.  A callback request is
encoded as its configuration says:

* ``application/json``: the fields as a JSON object;
* ``application/xml``: ``<callback>`` with one element per field; a list
  is one ``<item>`` element per entry, an object one element per key, a
  null is an empty element with ``null="true"``;
* ``application/x-www-form-urlencoded`` (and every GET, as a query string):
  flat fields as they are, nested ones in bracket notation
  (``key_presses[0][digits]=1``, ``session_data[name]=Bob``), which PHP,
  Rails, Express (qs) and others decode natively; null is an empty value,
  true/false are ``true``/``false``.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode
from xml.etree import ElementTree

import gevent
import urllib3

log = logging.getLogger(__name__)

CONTENT_TYPES = ("application/json", "application/xml", "application/x-www-form-urlencoded")
USER_AGENT = "voxology-fs"
MAX_RESPONSE_BYTES = 1024 * 1024
MAX_REDIRECTS = 5


@dataclass(frozen=True)
class CallbackTarget:
    url: str
    method: str = "POST"
    content_type: str = "application/json"


class CallbackError(Exception):
    """A callback failed; ``code`` says how (for the call's error record)."""

    def __init__(self, code: str, url: str, detail: str, status: int | None = None, retryable: bool = False):
        super().__init__(f"{code}: {url}: {detail}")
        self.code = code
        self.url = url
        self.detail = detail
        self.status = status
        self.retryable = retryable

    def as_record(self) -> dict:
        record: dict[str, Any] = {"code": self.code, "url": self.url, "message": self.detail}
        if self.status is not None:
            record["status"] = self.status
        return record


def _scalar(value) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def flatten_form(fields: dict) -> list[tuple[str, str]]:
    """Nested fields in bracket notation, in a stable order."""
    out: list[tuple[str, str]] = []

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            if not value:
                out.append((prefix, ""))
            for key, item in value.items():
                walk(f"{prefix}[{key}]", item)
        elif isinstance(value, list):
            if not value:
                out.append((prefix, ""))
            for index, item in enumerate(value):
                walk(f"{prefix}[{index}]", item)
        else:
            out.append((prefix, _scalar(value)))

    for key, value in fields.items():
        walk(key, value)
    return out


def to_xml(fields: dict, root: str = "callback") -> bytes:
    def build(parent, tag: str, value) -> None:
        element = ElementTree.SubElement(parent, tag)
        if value is None:
            element.set("null", "true")
        elif isinstance(value, dict):
            for key, item in value.items():
                build(element, _xml_tag(key), item)
        elif isinstance(value, list):
            for item in value:
                build(element, "item", item)
        else:
            element.text = _scalar(value)

    top = ElementTree.Element(root)
    for key, value in fields.items():
        build(top, _xml_tag(key), value)
    return ElementTree.tostring(top, encoding="utf-8", xml_declaration=True)


def _xml_tag(key) -> str:
    tag = "".join(c if c.isalnum() or c in "_-." else "_" for c in str(key))
    return tag if tag and (tag[0].isalpha() or tag[0] == "_") else "_" + tag


def encode(target: CallbackTarget, fields: dict) -> tuple[str, bytes | None, dict]:
    """The URL, body and headers of a request for this target and fields."""
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if target.method.upper() == "GET":
        query = urlencode(flatten_form(fields))
        separator = "&" if "?" in target.url else "?"
        return (target.url + separator + query if query else target.url), None, headers
    if target.content_type == "application/xml":
        headers["Content-Type"] = "application/xml; charset=utf-8"
        return target.url, to_xml(fields), headers
    if target.content_type == "application/x-www-form-urlencoded":
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return target.url, urlencode(flatten_form(fields)).encode(), headers
    headers["Content-Type"] = "application/json"
    return target.url, json.dumps(fields, separators=(",", ":")).encode(), headers


# Our own loop retries (see CallbackClient.send); urllib3 only follows redirects.
_FOLLOW_REDIRECTS = urllib3.Retry(
    total=MAX_REDIRECTS, connect=0, read=0, other=0, status=0, redirect=MAX_REDIRECTS, respect_retry_after_header=False
)


class CallbackSender(Protocol):
    """What a flow needs of a callback client: CallbackClient, or the simulator's static one."""

    def send(self, target: CallbackTarget, fields: dict, timeout: float | None = None) -> tuple[bytes, float]: ...
    def request_json(self, target: CallbackTarget, fields: dict, timeout: float | None = None) -> Any: ...
    def fire_and_forget(self, target: CallbackTarget, fields: dict, timeout: float | None = None) -> Any: ...


class CallbackClient:
    """Sends callbacks with bounded retries; one per call-server process.

    Built on urllib3 (the transport under ``requests``) rather than on
    ``requests`` itself: two callbacks per call are the call server's
    hottest path, and ``requests``' session layer doubled their CPU cost.
    """

    def __init__(
        self, connect_timeout: float = 3.0, read_timeout: float = 10.0, retries: int = 1, backoff: float = 0.25
    ):
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.retries = retries
        self.backoff = backoff
        # Many calls call the same customer host at once; keep their
        # connections instead of reopening one per callback.
        self.http = urllib3.PoolManager(num_pools=50, maxsize=500, block=False)

    @classmethod
    def from_settings(cls, settings) -> CallbackClient:
        return cls(
            settings.callback_connect_timeout,
            settings.callback_timeout,
            settings.callback_retries,
            settings.callback_retry_backoff,
        )

    def _send_once(self, target: CallbackTarget, fields: dict, timeout: float | None) -> bytes:
        url, body, headers = encode(target, fields)
        read_timeout = timeout or self.read_timeout
        try:
            response = self.http.request(
                target.method.upper(),
                url,
                body=body,
                headers=headers,
                preload_content=False,
                retries=_FOLLOW_REDIRECTS,
                timeout=urllib3.Timeout(connect=self.connect_timeout, read=read_timeout),
            )
        except urllib3.exceptions.MaxRetryError as exc:
            raise _request_error(exc.reason, target.url, read_timeout) from None
        except (urllib3.exceptions.HTTPError, ValueError) as exc:
            raise _request_error(exc, target.url, read_timeout) from None
        if response.status >= 400:
            response.close()
            raise CallbackError(
                "http_error",
                target.url,
                f"HTTP {response.status}",
                status=response.status,
                retryable=response.status in (502, 503, 504),
            )
        return _read_limited(response, target.url)

    def send(self, target: CallbackTarget, fields: dict, timeout: float | None = None) -> tuple[bytes, float]:
        """Send with retries; returns the body and the seconds the last try took."""
        attempt = 0
        while True:
            started = time.monotonic()
            try:
                body = self._send_once(target, fields, timeout)
                return body, time.monotonic() - started
            except CallbackError as exc:
                if not exc.retryable or attempt >= self.retries:
                    raise
                attempt += 1
                log.info("callback %s failed (%s); retry %d", target.url, exc.code, attempt)
                gevent.sleep(self.backoff * attempt)

    def request_json(self, target: CallbackTarget, fields: dict, timeout: float | None = None):
        """Send, and decode the answer as JSON (an empty answer is None)."""
        body, _ = self.send(target, fields, timeout)
        return decode_json(body, target.url)

    def fire_and_forget(self, target: CallbackTarget, fields: dict, timeout: float | None = None) -> gevent.Greenlet:
        def run():
            try:
                self.send(target, fields, timeout)
            except CallbackError as exc:
                log.warning("request to %s failed: %s", target.url, exc.detail)

        return gevent.spawn(run)


def _request_error(error, url: str, read_timeout: float) -> CallbackError:
    """A failed request as the call's error; a refused or unreachable host is worth one more try."""
    if isinstance(error, urllib3.exceptions.ReadTimeoutError):
        return CallbackError("timeout", url, f"no answer within {read_timeout:g} s")
    # NewConnectionError (refused, unresolvable) is a ConnectTimeoutError in urllib3;
    # a ProtocolError is a connection dropped before an answer came.
    if isinstance(error, (urllib3.exceptions.ConnectTimeoutError, urllib3.exceptions.ProtocolError)):
        return CallbackError("connection_failed", url, _short(error), retryable=True)
    return CallbackError("request_failed", url, _short(error))


def decode_json(body: bytes, url: str):
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except RecursionError:
        # Arrays nested thousands deep exhaust the decoder's stack.
        raise CallbackError("nested_too_deeply", url, "the answer is nested too deeply") from None
    except ValueError as exc:
        raise CallbackError("invalid_json", url, f"the answer is not JSON: {exc}") from None


def _read_limited(response: urllib3.BaseHTTPResponse, url: str) -> bytes:
    chunks, size, complete = [], 0, False
    try:
        for chunk in response.stream(65536):
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise CallbackError("response_too_large", url, f"answer larger than {MAX_RESPONSE_BYTES} bytes")
            chunks.append(chunk)
        complete = True
    except urllib3.exceptions.HTTPError as exc:
        raise CallbackError("read_failed", url, _short(exc)) from None
    finally:
        if complete:
            response.release_conn()  # back to the pool, for the next callback
        else:
            response.close()  # a connection with unread data cannot be reused
    return b"".join(chunks)


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) < 300 else text[:297] + "..."
