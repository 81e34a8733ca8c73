"""Recordings: list, read, fetch the audio (with seeking), delete.

The audio is fetched with the account's key, or with the signed URL that
callbacks carry (``expires`` and ``signature``), which needs no key: a
browser's ``<audio>`` element cannot send one.  Another account's
recording is not found either way.
"""

from __future__ import annotations

import os

from flask import Blueprint, Response, g, request, send_file

from .. import db
from ..models import Recording
from ..recordings import FORMATS, STATUSES, RecordingBook
from ..s3store import ArchiveError, MissingObject, RangeNotSatisfiable
from ..timeutil import iso
from .auth import authenticate
from .common import account_id, callbacks, owned, paged, per_worker, time_param
from .errors import ApiError, bad_field, conflict, not_found

bp = Blueprint("recordings", __name__)


def book() -> RecordingBook:
    return per_worker("VOX_RECORDINGS", lambda settings: RecordingBook.from_settings(settings, callbacks()))


def recording_json(record: Recording) -> dict:
    return {
        "id": record.id,
        "name": record.name,
        "call_id": record.call_id,
        "source": record.source,
        "status": record.status,
        "format": record.format,
        "content_type": FORMATS.get(record.format, "application/octet-stream"),
        "channels": record.channels,
        "duration": record.duration_ms,
        "size": record.size_bytes,
        "stored_in": record.stored_in,
        "ended_by": record.ended_by,
        "finish_key": record.finish_key,
        "error": record.error,
        "created_at": iso(record.created_at),
        "completed_at": iso(record.completed_at),
        "url": book().signer.url(record.id) if record.status == "completed" else None,
    }


def owned_recording(recording_id: str) -> Recording:
    if len(recording_id) > 64:
        raise not_found("no such recording", "recording_id")
    return owned(Recording, Recording.id == recording_id, "no such recording", "recording_id")


@bp.get("/Recordings")
def list_recordings():
    query = Recording.select().where(Recording.account == account_id())
    call_id = request.args.get("call_id")
    if call_id:
        query = query.where(Recording.call == call_id[:64])
    status = request.args.get("status")
    if status:
        if status not in STATUSES:
            raise bad_field("status", "status must be one of " + ", ".join(STATUSES))
        query = query.where(Recording.status == status)
    since, until = time_param("created_from"), time_param("created_to")
    if since:
        query = query.where(Recording.created_at >= since)
    if until:
        query = query.where(Recording.created_at < until)
    return paged("recordings", query, [Recording.created_at.desc(), Recording.id], recording_json)


@bp.get("/Recordings/<recording_id>")
def get_recording(recording_id):
    return recording_json(owned_recording(recording_id))


@bp.get("/Recordings/<recording_id>/Audio")
def get_audio(recording_id):
    """The file, with HTTP range requests (a player seeks); by key or by signed URL."""
    signature, expires = request.args.get("signature"), request.args.get("expires")
    if signature is None and expires is None:
        authenticate()
        record = owned_recording(recording_id)
    else:
        if not book().signer.valid(recording_id[:64], expires or "", signature or ""):
            raise ApiError(403, "forbidden", "the signed URL is not valid or has expired", "signature")
        with db.database.connection_context():
            found = Recording.get_or_none(Recording.id == recording_id)
        if found is None:
            raise not_found("no such recording", "recording_id")
        record = found
        g.account_id = record.account_id
    if record.status != "completed":
        raise conflict(f"the recording is {record.status}; its audio is ready once completed", "recording_id")
    mimetype = FORMATS.get(record.format, "application/octet-stream")
    if record.stored_in == "s3":
        response = archived_audio(record, mimetype)
    else:
        path = book().store.path(record.store_key)
        if not os.path.exists(path):
            raise ApiError(410, "gone", "the recording's file is no longer in the store", "recording_id")
        response = send_file(path, mimetype=mimetype, conditional=True, max_age=0)
    response.headers["Cache-Control"] = "private, max-age=0"
    return response


def archived_audio(record: Recording, mimetype: str) -> Response:
    """The file from the bucket, streamed; the bucket answers the range itself."""
    archive = book().archive
    if archive is None:
        raise ApiError(503, "store_unavailable", "the recording is in the S3 store, which is not configured")
    try:
        audio = archive.get(record.store_key, request.headers.get("Range"))
    except RangeNotSatisfiable:
        raise ApiError(416, "range_not_satisfiable", "the range is outside the recording", "Range") from None
    except MissingObject:
        raise ApiError(410, "gone", "the recording's file is no longer in the store", "recording_id") from None
    except ArchiveError as exc:
        raise ApiError(503, "store_unavailable", str(exc)) from None
    response = Response(audio.body, status=audio.status, mimetype=mimetype, direct_passthrough=True)
    response.headers["Content-Length"] = str(audio.length)
    response.headers["Accept-Ranges"] = "bytes"
    if audio.content_range:
        response.headers["Content-Range"] = audio.content_range
    return response


@bp.delete("/Recordings/<recording_id>")
def delete_recording(recording_id):
    record = owned_recording(recording_id)
    if record.status in ("in-progress", "paused"):
        raise conflict("the recording is still in progress; stop it first", "recording_id")
    archive = book().archive
    if record.stored_in == "s3":
        if archive is None:
            raise ApiError(503, "store_unavailable", "the recording is in the S3 store, which is not configured")
        try:
            archive.delete(record.store_key)
        except MissingObject:
            pass
        except ArchiveError as exc:
            raise ApiError(503, "store_unavailable", str(exc)) from None
    else:
        book().store.delete(record.store_key)
    with db.unit_of_work():
        Recording.delete().where(Recording.id == record.id, Recording.account == account_id()).execute()
    return "", 204
