"""Recording a live call by REST: start, pause, resume, stop.

The REST worker does it itself with ``uuid_record`` on the call's switch
(the call's flow never notices: nothing reaches its socket).  The file is
the whole call, both parties mixed, or one party per channel (``dual``);
it ends when stopped or with the call (the switch watcher completes it).
"""

from __future__ import annotations

from flask import Blueprint

from .. import db
from ..models import Recording
from .calls import live_call, owned_call
from .common import account_id, json_body, method_field, string, switch_errors, switches, url_field
from .errors import ApiError, bad_field, conflict, not_found
from .recordings import book, recording_json

bp = Blueprint("call_recordings", __name__)

CHANNELS = {"mono": 1, "dual": 2}
# A recording's status as the REST body sets it, and the uuid_record action for it.
CHANGES = {"paused": "pause", "in-progress": "resume", "stopped": "stop"}


def _uuid_record(call, *words: str) -> str:
    with switch_errors():
        return switches().link(call.switch).api(" ".join(("uuid_record", call.channel_uuid or call.id, *words)))


@bp.post("/Calls/<call_id>/Recordings")
def start_recording(call_id):
    body = json_body(required=False)
    unknown = sorted(set(body) - {"channels", "recording_status_url", "recording_status_method"})
    if unknown:
        raise bad_field(unknown[0], f"unknown field {unknown[0]!r}")
    channels = string(body, "channels", "channels", max_length=8) or "mono"
    if channels not in CHANNELS:
        raise bad_field("channels", "channels must be mono or dual")
    status_url = url_field(body, "recording_status_url", required=False, key="recording_status_url")
    status_method = method_field(body, "recording_status_method", "POST", key="recording_status_method")
    call = live_call(call_id)
    started = book().begin(
        account_id=account_id(),
        call_id=call.id,
        source="call",
        channels=CHANNELS[channels],
        status_url=status_url,
        status_method=status_method,
    )
    # The path is ours (the store's key); five words only with the variables:
    # uuid_record reads a fifth word whenever a fourth is given.
    words = ["start", started.path] + (["0", "{RECORD_STEREO=true}"] if channels == "dual" else [])
    try:
        reply = _uuid_record(call, *words)
    except ApiError:
        book().fail(started.id, "the switch could not be reached")
        raise
    if not reply.startswith("+OK"):
        book().fail(started.id, reply.strip())
        raise conflict(f"the switch refused to record the call: {reply.strip()}", "call_id")
    with db.database.connection_context():
        return recording_json(Recording.get_by_id(started.id)), 201


@bp.get("/Calls/<call_id>/Recordings")
def list_call_recordings(call_id):
    call = owned_call(call_id)
    with db.database.connection_context():
        records = Recording.select().where(Recording.call == call.id, Recording.account == account_id())
        return {"recordings": [recording_json(r) for r in records.order_by(Recording.created_at.desc())]}


@bp.post("/Calls/<call_id>/Recordings/<recording_id>")
def change_recording(call_id, recording_id):
    body = json_body()
    status = string(body, "status", "status", required=True, max_length=16)
    if status not in CHANGES:
        raise bad_field("status", "status must be paused, in-progress or stopped")
    call = owned_call(call_id)
    with db.database.connection_context():
        record = Recording.get_or_none(
            Recording.id == recording_id[:64], Recording.call == call.id, Recording.account == account_id()
        )
    if record is None or record.source != "call":
        raise not_found("no such recording of this call", "recording_id")
    if record.status not in ("in-progress", "paused"):
        raise conflict(f"the recording is {record.status}", "recording_id")
    reply = _uuid_record(call, CHANGES[status], book().store.path(record.store_key))
    if not reply.startswith("+OK"):
        # The switch no longer has it: the call ended; the watcher completes it.
        raise conflict(f"the switch has no such recording now: {reply.strip()}", "recording_id")
    if status == "stopped":
        book().finish(record.id, ended_by="stopped")
    else:
        book().set_status(record.id, status)
    with db.database.connection_context():
        return recording_json(Recording.get_by_id(record.id))
