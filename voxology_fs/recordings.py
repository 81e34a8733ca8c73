"""Recordings: where their files live, their records, and the signed URLs that fetch them.

FreeSWITCH writes a recording straight into the store folder, under a name
made of the account and the record's id (``ACCOUNT/ID.wav``): never a name
a caller or customer chose.  The switch, the call servers and the REST API
must see that folder at the same path: one host, or one shared mount
(``recordings_dir``).  A record is created before the switch starts writing
and completed when it stops, so a file always has a record, and a record
that stays in-progress names a call that ended mid-recording (the watcher
closes it; see :meth:`RecordingBook.close_left_open`).  With a bucket
configured, the completed file moves there (:mod:`voxology_fs.s3store`).

A recording's URL carries an expiry and an HMAC of the id and expiry with a
key every process shares (``recording_url_secret``, or one the first
process stores in the database), so a browser's ``<audio>`` element, which
sends no API key, can fetch it until it expires.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import time

import gevent

from . import claims, db, wavfile
from .callbacks import CallbackTarget
from .flow.services import StartedRecording
from .models import Recording, Secret, new_id
from .s3store import ArchiveError, S3Archive
from .timeutil import utcnow

log = logging.getLogger(__name__)

FORMATS = {"wav": "audio/wav", "mp3": "audio/mpeg"}
STATUSES = ("in-progress", "paused", "completed", "failed")
# What ended a RECORD; whole-call recordings end "stopped" or "hangup", a
# conference's "ended" (its last member left).
ENDINGS = ("key", "silence", "max_length", "hangup", "stopped", "ended")
_KEY = re.compile(r"^[A-Za-z0-9-]{1,64}/[A-Za-z0-9-]{1,64}\.(wav|mp3)$")
SECRET_NAME = "recording_urls"
# How long a finished recording's file may take to be closed by the switch.
CLOSE_WAIT_S = 3.0


class RecordingStore:
    """A local folder of recording files, by key."""

    def __init__(self, root: str):
        self.root = os.path.abspath(root)

    @staticmethod
    def key_for(account_id: str, recording_id: str, fmt: str) -> str:
        key = f"{account_id}/{recording_id}.{fmt}"
        if not _KEY.match(key):
            raise ValueError(f"not a recording key: {key!r}")
        return key

    def path(self, key: str) -> str:
        if not _KEY.match(key):
            raise ValueError(f"not a recording key: {key!r}")
        return os.path.join(self.root, key)

    def prepare(self, key: str) -> str:
        """The file's path, its folder made (the switch writes the file, not the folder)."""
        path = self.path(key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return path

    def size(self, key: str) -> int | None:
        try:
            return os.path.getsize(self.path(key))
        except OSError:
            return None

    def delete(self, key: str) -> None:
        try:
            os.remove(self.path(key))
        except FileNotFoundError:
            pass


class UrlSigner:
    """Signed, expiring URLs under the API's public base URL: recordings' audio,
    SMS delivery receipts (each signed for what it opens, so one never opens another)."""

    def __init__(self, base_url: str, ttl: int, secret: str = ""):
        self.base_url = base_url.rstrip("/")
        self.ttl = ttl
        self._secret = secret.encode() if secret else None

    @classmethod
    def from_settings(cls, settings) -> UrlSigner:
        base = settings.public_base_url or f"http://{settings.api_host}:{settings.api_port}"
        return cls(base, settings.recording_url_ttl, settings.recording_url_secret)

    def key(self) -> bytes:
        if self._secret is None:
            self._secret = shared_secret().encode()
        return self._secret

    def signature(self, recording_id: str, expires: int) -> str:
        return hmac.new(self.key(), f"{recording_id}:{expires}".encode(), hashlib.sha256).hexdigest()

    def url(self, recording_id: str, now: float | None = None) -> str:
        return self.signed(f"/v1/Recordings/{recording_id}/Audio", recording_id, now)

    def signed(self, path: str, subject: str, now: float | None = None, ttl: int | None = None) -> str:
        """``path`` under the base URL, signed for ``subject`` (what the URL opens)."""
        expires = int((now or time.time()) + (self.ttl if ttl is None else ttl))
        return f"{self.base_url}{path}?expires={expires}&signature={self.signature(subject, expires)}"

    def valid(self, recording_id: str, expires: str, signature: str, now: float | None = None) -> bool:
        if not expires.isdigit() or int(expires) < (now or time.time()):
            return False
        return hmac.compare_digest(self.signature(recording_id, int(expires)), signature)


def shared_secret() -> str:
    """The signing key all processes share: the first to ask stores one."""
    with db.unit_of_work():
        Secret.insert(name=SECRET_NAME, value=secrets.token_hex(32)).on_conflict_ignore().execute()
        return Secret.get_by_id(SECRET_NAME).value


class RecordingBook:
    """What calls tell the database and the store about their recordings (Services.recordings)."""

    def __init__(
        self,
        store: RecordingStore,
        signer: UrlSigner,
        silence_threshold: int = 200,
        callbacks=None,
        archive: S3Archive | None = None,
    ):
        self.store = store
        self.signer = signer
        self.silence_threshold = silence_threshold
        # Where recording_status_url requests go (a CallbackSender); None: nowhere.
        self.callbacks = callbacks
        # Where completed files move to; None: they stay in the store folder.
        self.archive = archive

    @classmethod
    def from_settings(cls, settings, callbacks=None) -> RecordingBook:
        signer = UrlSigner.from_settings(settings)
        store = RecordingStore(settings.recordings_dir)
        archive = S3Archive.from_settings(settings)
        return cls(store, signer, settings.recording_silence_threshold, callbacks, archive)

    def begin(
        self,
        *,
        account_id: str,
        call_id: str,
        name: str = "",
        fmt: str = "wav",
        source: str = "record",
        channels: int = 1,
        status_url: str | None = None,
        status_method: str | None = None,
        room: str | None = None,
    ) -> StartedRecording:
        with db.unit_of_work():
            return self._create(account_id, call_id, name, fmt, source, channels, status_url, status_method, room)

    def _create(self, account_id, call_id, name, fmt, source, channels, status_url, status_method, room):
        """The record and the file's folder (in the transaction open)."""
        recording_id = new_id()
        key = self.store.key_for(account_id, recording_id, fmt)
        path = self.store.prepare(key)
        Recording.create(
            id=recording_id,
            account=account_id,
            call=call_id,
            name=name,
            source=source,
            format=fmt,
            channels=channels,
            store_key=key,
            status_url=status_url,
            status_method=status_method,
            room=room,
        )
        return StartedRecording(recording_id, path)

    def begin_room(
        self, *, account_id: str, call_id: str, room: str, room_uuid: str, name: str, status_url: str | None = None
    ) -> StartedRecording | None:
        """A recording of the room's mix, or None when another member already
        started one: once per room instance (FreeSWITCH's Conference-Unique-ID)."""
        if not room_uuid:
            return None
        # One transaction: a member that loses the claim waits for the winner's
        # record, so it finds the room's recording at once.
        with db.unit_of_work():
            if not claims.claim_here(f"conference-recording:{room_uuid}"):
                return None
            return self._create(account_id, call_id, name, "wav", "conference", 1, status_url, None, room)

    def room_recording(self, room: str) -> str | None:
        """The id of the room's recording in progress, if any."""
        with db.database.connection_context():
            return (
                Recording.select(Recording.id)
                .where(Recording.room == room, Recording.status.in_(("in-progress", "paused")))
                .scalar()
            )

    def close_room(self, room: str) -> int:
        """Complete the recordings of a room that ended: each once the switch
        has closed its file (it does when the last member leaves)."""
        with db.database.connection_context():
            open_ones = list(
                Recording.select(Recording.id, Recording.store_key).where(
                    Recording.room == room, Recording.status.in_(("in-progress", "paused"))
                )
            )
        done = 0
        for record in open_ones:
            if self._wait_closed(self.store.path(record.store_key)):
                self.finish(record.id, ended_by="ended")
                done += 1
            else:
                log.warning("recording %s: the room %s ended but its file is still open", record.id, room)
        return done

    def listening_path(self, call_id: str) -> str:
        """A spool file for what DETECT hears: ours, in the store's folder, removed after."""
        folder = os.path.join(self.store.root, "listening")
        os.makedirs(folder, exist_ok=True)
        return os.path.join(folder, f"{new_id()}.wav")

    def set_status(self, recording_id: str, status: str) -> None:
        with db.unit_of_work():
            Recording.update(status=status).where(
                Recording.id == recording_id, Recording.status.in_(("in-progress", "paused"))
            ).execute()

    def finish(
        self,
        recording_id: str,
        *,
        ended_by: str,
        finish_key: str = "",
        duration_ms: int | None = None,
        trim: bool = False,
    ) -> dict:
        """Complete the record from the finished file; returns the callback entry.

        Once: the first process to finish it (the call's server, the REST
        worker that stopped it, a watcher after a crash) does the work; the
        others get the entry as that one left it.
        """
        with db.unit_of_work():
            won = (
                Recording.update(status="completed", ended_by=ended_by, finish_key=finish_key or None)
                .where(Recording.id == recording_id, Recording.status.in_(("in-progress", "paused")))
                .execute()
            )
            record = Recording.get_by_id(recording_id)
        if not won:
            return self.entry(record)
        path = self.store.path(record.store_key)
        if not os.path.exists(path):
            return self.fail(recording_id, "the switch wrote no file")
        if record.format == "wav":
            self._wait_closed(path)
            # Trimming rewrites the file aside and renames it: a reader never sees half of it.
            measured = wavfile.trim_silence(path, self.silence_threshold) if trim else wavfile.duration_ms(path)
            duration_ms = measured if measured is not None else duration_ms
        size = self.store.size(record.store_key)
        stored_in, error = self._archived(record, path)
        with db.unit_of_work():
            Recording.update(
                duration_ms=duration_ms, size_bytes=size, completed_at=utcnow(), stored_in=stored_in, error=error
            ).where(Recording.id == recording_id).execute()
            record = Recording.get_by_id(recording_id)
        if stored_in == "s3":
            # Only once the record says where the file is: a reader never finds neither.
            self.store.delete(record.store_key)
        return self._told(record)

    def _archived(self, record: Recording, path: str) -> tuple[str, str | None]:
        """Where the completed file stays: the bucket, or (without one, or when
        the upload failed) the store folder, the reason kept in ``error``."""
        if self.archive is None:
            return "local", None
        try:
            self.archive.put(record.store_key, path, FORMATS.get(record.format, "application/octet-stream"))
        except ArchiveError as exc:
            log.warning("recording %s stays in the store folder: %s", record.id, exc)
            return "local", f"kept in the store folder: {exc}"
        return "s3", None

    @staticmethod
    def _wait_closed(path: str, timeout: float = CLOSE_WAIT_S) -> bool:
        deadline = time.monotonic() + timeout
        while not wavfile.is_finished(path):
            if time.monotonic() >= deadline:
                return False
            gevent.sleep(0.05)
        return True

    def fail(self, recording_id: str, error: str) -> dict:
        log.warning("recording %s failed: %s", recording_id, error)
        with db.unit_of_work():
            Recording.update(status="failed", error=error, completed_at=utcnow()).where(
                Recording.id == recording_id
            ).execute()
            record = Recording.get_by_id(recording_id)
        return self._told(record)

    def _told(self, record: Recording) -> dict:
        """The entry, after telling the recording's status URL (if any) that it is done."""
        entry = self.entry(record)
        if record.status_url and self.callbacks is not None:
            target = CallbackTarget(url=record.status_url, method=record.status_method or "POST")
            fields = {"type": "recording_status", "call_id": record.call_id, "recording": entry}
            self.callbacks.fire_and_forget(target, fields)
        return entry

    def entry(self, record: Recording) -> dict:
        """A recording as callbacks and ``$recordings`` show it (the seed's name and id, and more)."""
        return {
            "name": record.name,
            "id": record.id,
            "status": record.status,
            "duration": record.duration_ms,
            "url": self.signer.url(record.id) if record.status == "completed" else None,
            "ended_by": record.ended_by,
            "finish_key": record.finish_key,
        }

    def close_left_open(self, call_id: str, sources=("record", "call")) -> int:
        """Complete what an ended call left in progress: its whole-call recordings
        (nobody else ends them), or a RECORD whose call server died."""
        with db.database.connection_context():
            open_ids = [
                r.id
                for r in Recording.select(Recording.id).where(
                    Recording.call == call_id,
                    Recording.status.in_(("in-progress", "paused")),
                    Recording.source.in_(list(sources)),
                )
            ]
        for recording_id in open_ids:
            self.finish(recording_id, ended_by="hangup")
        return len(open_ids)
