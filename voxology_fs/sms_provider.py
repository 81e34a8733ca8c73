"""Texts through an HTTP SMS provider instead of the switch (``sms_provider_url``).

One of the few modules that touch the network.  Each message is one
request the operator describes in settings: the URL, JSON or form fields
whose values are templates (``{to}``, ``{from}``, ``{text}``,
``{message_id}``, ``{receipt_url}``), and the credentials.  A value is
substituted into a field, never into a document, so a text cannot change
the request's shape.  A 2xx answer means the provider took it (``sent``);
``delivered`` only comes later, from the provider's delivery receipt to
``receipt_url`` (see ``api/messages.py``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import quote

import requests

log = logging.getLogger(__name__)

PLACEHOLDERS = ("to", "from", "text", "message_id", "receipt_url")
FORMATS = ("json", "form")


class ProviderSettingError(ValueError):
    """The provider's settings cannot make a request; the message names the setting."""


@dataclass(frozen=True)
class ProviderAnswer:
    ok: bool
    status: int | None = None
    error: str = ""


def _render(template: str, values: dict[str, str], setting: str) -> str:
    try:
        return template.format_map(values)
    except (KeyError, IndexError, ValueError) as exc:
        known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
        raise ProviderSettingError(f"setting {setting!r}: {exc!s} (known placeholders: {known})") from None


class SmsProvider:
    """One operator-configured HTTP endpoint that sends texts."""

    def __init__(
        self,
        url: str,
        fields: tuple[str, ...],
        *,
        fmt: str = "json",
        method: str = "POST",
        user: str = "",
        password: str = "",
        token: str = "",
        timeout: float = 10.0,
    ):
        if not url.startswith(("http://", "https://")):
            raise ProviderSettingError(f"setting 'sms_provider_url': not an http(s) URL: {url!r}")
        if fmt not in FORMATS:
            raise ProviderSettingError(f"setting 'sms_provider_format': one of {FORMATS}, got {fmt!r}")
        self.url = url
        self.fields: list[tuple[str, str]] = []
        for item in fields:
            name, sep, template = item.partition("=")
            if not sep or not name.strip():
                raise ProviderSettingError(f"setting 'sms_provider_fields': expected name=template, got {item!r}")
            self.fields.append((name.strip(), template))
        self.fmt = fmt
        self.method = method.upper()
        self.auth = (user, password) if user else None
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.timeout = timeout
        # Fail at start-up, not on the first text: every template must render.
        self._request({p: "x" for p in PLACEHOLDERS})

    @classmethod
    def from_settings(cls, settings) -> SmsProvider | None:
        if not settings.sms_provider_url:
            return None
        return cls(
            settings.sms_provider_url,
            settings.sms_provider_fields,
            fmt=settings.sms_provider_format,
            method=settings.sms_provider_method,
            user=settings.sms_provider_user,
            password=settings.sms_provider_password,
            token=settings.sms_provider_token,
            timeout=settings.sms_provider_timeout,
        )

    def _request(self, values: dict[str, str]) -> tuple[str, dict[str, str]]:
        # The URL's values are percent-encoded; the fields' go as they are.
        url = _render(self.url, {k: quote(v, safe="") for k, v in values.items()}, "sms_provider_url")
        return url, {name: _render(t, values, "sms_provider_fields") for name, t in self.fields}

    def send(self, *, message_id: str, from_no: str, to_no: str, text: str, receipt_url: str) -> ProviderAnswer:
        values = {"to": to_no, "from": from_no, "text": text, "message_id": message_id, "receipt_url": receipt_url}
        url, fields = self._request(values)
        body = {"json": fields} if self.fmt == "json" else {"data": fields}
        try:
            response = requests.request(
                self.method,
                url,
                auth=self.auth,
                headers=self.headers,
                timeout=self.timeout,
                allow_redirects=False,
                **body,  # type: ignore[arg-type]
            )
        except requests.RequestException as exc:
            return ProviderAnswer(False, None, f"the SMS provider could not be reached: {type(exc).__name__}")
        if 200 <= response.status_code < 300:
            return ProviderAnswer(True, response.status_code)
        detail = response.text[:200].strip()
        return ProviderAnswer(
            False, response.status_code, f"the SMS provider answered HTTP {response.status_code}: {detail}"
        )
