"""API keys: ``x-api-key`` names an application; only its SHA-256 is stored.

Keys are ``vox_`` followed by 40 URL-safe random characters.  The first 12
characters are kept in clear (``api_key_prefix``) so an operator can tell
keys apart in listings; they prove nothing.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time

from flask import current_app, g, request

from .. import db
from ..models import Application
from .errors import ApiError

KEY_PREFIX = "vox_"


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(30)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def authenticate() -> None:
    """Resolve the request's key to its application and account, or 401."""
    key = request.headers.get("x-api-key", "").strip()
    if not key:
        raise ApiError(401, "unauthorized", "an API key is required in the x-api-key header")
    if len(key) > 200 or "\x00" in key:
        raise ApiError(401, "unauthorized", "unknown API key")
    with db.database.connection_context():
        app = Application.get_or_none(Application.api_key_hash == hash_key(key))
    if app is None:
        raise ApiError(401, "unauthorized", "unknown API key")
    g.application_id = app.id
    g.account_id = app.account_id
    limiter = current_app.config.get("VOX_LIMITER")
    if limiter is not None:
        limiter.check(app.id)


class RateLimiter:
    """A token bucket per application, in this worker process."""

    def __init__(self, rate: float, burst: int):
        self.rate = rate
        self.burst = max(1, burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> None:
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                wait = max(1, int((1.0 - tokens) / self.rate + 0.999))
                raise ApiError(
                    429, "rate_limited", f"too many requests; retry in {wait} s", headers={"Retry-After": str(wait)}
                )
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > 100000:
                self._buckets.clear()
