"""PLAY's audio: fetched by us over http(s), cached as HTTP allows.

FreeSWITCH is only ever handed files this module wrote into its cache
folder, so a customer's URL can never name a local file, a ``shout://``
stream or a ``say:`` string.  Freshness follows ``Cache-Control``
(``max-age``, ``no-cache``, ``no-store``) and ``Expires``; stale entries are
revalidated with ``ETag``/``Last-Modified``.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import os
import time
from collections import defaultdict

import gevent.lock
import requests

from .flow.errors import ActionFailed

_TYPES = {
    "audio/mpeg": ".mp3",
    "audio/mp3": ".mp3",
    "audio/mpeg3": ".mp3",
    "audio/x-mpeg-3": ".mp3",
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "audio/wave": ".wav",
    "audio/vnd.wave": ".wav",
}


def sniff_extension(head: bytes) -> str | None:
    """.wav or .mp3 from the file's first bytes, or None."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return ".wav"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return ".mp3"
    return None


def _freshness(headers) -> float:
    """Seconds the response may be reused without asking again."""
    control = {}
    for part in headers.get("Cache-Control", "").split(","):
        key, _, value = part.strip().partition("=")
        if key:
            control[key.lower()] = value.strip('"')
    if "no-store" in control or "no-cache" in control:
        return 0.0
    for key in ("s-maxage", "max-age"):
        if key in control:
            try:
                return max(0.0, float(control[key]))
            except ValueError:
                return 0.0
    expires = headers.get("Expires")
    if expires:
        try:
            return max(0.0, email.utils.parsedate_to_datetime(expires).timestamp() - time.time())
        except (TypeError, ValueError):
            return 0.0
    # No explicit freshness: like browsers, a tenth of the age since Last-Modified.
    modified = headers.get("Last-Modified")
    if modified:
        try:
            age = time.time() - email.utils.parsedate_to_datetime(modified).timestamp()
            return max(0.0, min(age / 10, 86400.0))
        except (TypeError, ValueError):
            pass
    return 0.0


class AudioCache:
    def __init__(
        self,
        directory: str,
        max_bytes: int = 50 * 1024 * 1024,
        timeout: float = 10.0,
        session: requests.Session | None = None,
    ):
        self.directory = os.path.abspath(directory)
        os.makedirs(self.directory, exist_ok=True)
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.http = session or requests.Session()
        self.http.trust_env = False
        self._locks: dict[str, gevent.lock.Semaphore] = defaultdict(gevent.lock.Semaphore)

    @classmethod
    def from_settings(cls, settings) -> AudioCache:
        return cls(settings.audio_cache_dir, settings.audio_max_bytes, settings.audio_fetch_timeout)

    def _meta_path(self, key: str) -> str:
        return os.path.join(self.directory, key + ".json")

    def fetch(self, url: str) -> str:
        """A local path holding the audio at ``url``; raises :class:`ActionFailed`."""
        key = hashlib.sha256(url.encode()).hexdigest()
        with self._locks[key]:
            meta = self._read_meta(key)
            if meta and meta["fresh_until"] > time.time() and os.path.exists(meta["path"]):
                return meta["path"]
            return self._download(url, key, meta)

    def _read_meta(self, key: str) -> dict | None:
        try:
            with open(self._meta_path(key)) as fh:
                return json.load(fh)
        except (OSError, ValueError):
            return None

    def _download(self, url: str, key: str, meta: dict | None) -> str:
        headers = {"User-Agent": "voxology-fs", "Accept": "audio/mpeg, audio/wav, audio/*;q=0.5"}
        if meta and os.path.exists(meta["path"]):
            if meta.get("etag"):
                headers["If-None-Match"] = meta["etag"]
            if meta.get("last_modified"):
                headers["If-Modified-Since"] = meta["last_modified"]
        try:
            with gevent.Timeout(self.timeout * 3, ActionFailed(f"audio download took too long: {url}")):
                response = self.http.get(url, headers=headers, stream=True, timeout=self.timeout)
                try:
                    if response.status_code == 304 and meta:
                        meta["fresh_until"] = time.time() + _freshness(response.headers)
                        self._write_meta(key, meta)
                        return meta["path"]
                    if response.status_code != 200:
                        raise ActionFailed(f"audio URL answered HTTP {response.status_code}: {url}")
                    body = self._read_body(response, url)
                finally:
                    response.close()
        except requests.exceptions.RequestException as exc:
            raise ActionFailed(f"audio URL could not be fetched: {url}: {type(exc).__name__}") from None
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        extension = sniff_extension(body[:16]) or _TYPES.get(content_type)
        if extension is None:
            raise ActionFailed(f"audio at {url} is not mp3 or wav (Content-Type {content_type or 'none'})")
        path = os.path.join(self.directory, key + extension)
        temporary = f"{path}.{os.getpid()}.tmp"
        with open(temporary, "wb") as fh:
            fh.write(body)
        os.replace(temporary, path)
        self._write_meta(
            key,
            {
                "url": url,
                "path": path,
                "etag": response.headers.get("ETag"),
                "last_modified": response.headers.get("Last-Modified"),
                "fresh_until": time.time() + _freshness(response.headers),
            },
        )
        return path

    def _read_body(self, response, url: str) -> bytes:
        chunks, size = [], 0
        for chunk in response.iter_content(65536):
            size += len(chunk)
            if size > self.max_bytes:
                raise ActionFailed(f"audio at {url} is larger than {self.max_bytes} bytes")
            chunks.append(chunk)
        if not size:
            raise ActionFailed(f"audio at {url} is empty")
        return b"".join(chunks)

    def _write_meta(self, key: str, meta: dict) -> None:
        temporary = self._meta_path(key) + ".tmp"
        with open(temporary, "w") as fh:
            json.dump(meta, fh)
        os.replace(temporary, self._meta_path(key))
