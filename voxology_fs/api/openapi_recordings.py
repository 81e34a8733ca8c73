"""The OpenAPI paths and schemas of the recording endpoints (part of :mod:`voxology_fs.api.openapi`)."""

from __future__ import annotations

TAG = "Recordings"

RECORDING_ID = {"name": "recording_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}

SCHEMAS: dict[str, dict] = {
    "Recording": {
        "type": "object",
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "name": {"type": "string", "description": "the RECORD action's name"},
            "call_id": {"type": "string", "format": "uuid", "nullable": True},
            "source": {"type": "string", "enum": ["record", "call", "conference"]},
            "status": {"type": "string", "enum": ["in-progress", "paused", "completed", "failed"]},
            "format": {"type": "string", "enum": ["wav", "mp3"]},
            "content_type": {"type": "string"},
            "channels": {"type": "integer"},
            "duration": {"type": "integer", "nullable": True, "description": "ms"},
            "size": {"type": "integer", "nullable": True, "description": "bytes"},
            "stored_in": {
                "type": "string",
                "enum": ["local", "s3"],
                "description": "the store folder, or the S3-compatible bucket once uploaded",
            },
            "ended_by": {
                "type": "string",
                "nullable": True,
                "enum": ["key", "silence", "max_length", "hangup", "stopped", "ended", None],
            },
            "finish_key": {"type": "string", "nullable": True},
            "error": {"type": "string", "nullable": True},
            "created_at": {"type": "string", "format": "date-time"},
            "completed_at": {"type": "string", "format": "date-time", "nullable": True},
            "url": {
                "type": "string",
                "format": "uri",
                "nullable": True,
                "description": "the audio, signed: fetched without a key until it expires",
            },
        },
    },
}


CALL_ID = {"name": "call_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}

SCHEMAS["CallRecordingStart"] = {
    "type": "object",
    "properties": {
        "channels": {
            "type": "string",
            "enum": ["mono", "dual"],
            "default": "mono",
            "description": "dual: one party per channel",
        },
        "recording_status_url": {"type": "string", "format": "uri", "description": "requested when it is ready"},
        "recording_status_method": {"type": "string", "enum": ["GET", "POST"], "default": "POST"},
    },
    "additionalProperties": False,
}
SCHEMAS["CallRecordingChange"] = {
    "type": "object",
    "required": ["status"],
    "properties": {"status": {"type": "string", "enum": ["paused", "in-progress", "stopped"]}},
}


def paths(op, json, ref, page, page_params) -> dict:
    """The paths, built with openapi's own helpers."""
    audio = {
        "description": "The audio (206 with Content-Range for a Range request)",
        "content": {"audio/wav": {"schema": {"type": "string", "format": "binary"}}, "audio/mpeg": {}},
    }
    signed = [
        {"name": "expires", "in": "query", "schema": {"type": "integer"}, "description": "from a signed URL"},
        {"name": "signature", "in": "query", "schema": {"type": "string"}, "description": "from a signed URL"},
    ]
    return {
        "/Calls/{call_id}/Recordings": {
            "post": op(
                "Record the live call from now (both parties), until stopped or the call ends",
                TAG,
                {"201": json(ref("Recording"))},
                params=[CALL_ID],
                body=ref("CallRecordingStart"),
                errors=(400, 401, 404, 409, 415, 429, 503),
                op_id="startCallRecording",
            ),
            "get": op(
                "The call's recordings, newest first",
                TAG,
                {
                    "200": json(
                        {"type": "object", "properties": {"recordings": {"type": "array", "items": ref("Recording")}}}
                    )
                },
                params=[CALL_ID],
                errors=(401, 404, 429),
                op_id="listCallRecordings",
            ),
        },
        "/Calls/{call_id}/Recordings/{recording_id}": {
            "post": op(
                "Pause, resume or stop a whole-call recording",
                TAG,
                {"200": json(ref("Recording"))},
                params=[CALL_ID, RECORDING_ID],
                body=ref("CallRecordingChange"),
                errors=(400, 401, 404, 409, 415, 429, 503),
                op_id="changeCallRecording",
            )
        },
        "/Recordings": {
            "get": op(
                "The account's recordings, newest first",
                TAG,
                {"200": json(page("recordings", ref("Recording")))},
                params=[
                    *page_params,
                    {"name": "call_id", "in": "query", "schema": {"type": "string"}},
                    {
                        "name": "status",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["in-progress", "paused", "completed", "failed"]},
                    },
                    {"name": "created_from", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                    {"name": "created_to", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                ],
                op_id="listRecordings",
            )
        },
        "/Recordings/{recording_id}": {
            "get": op(
                "A recording",
                TAG,
                {"200": json(ref("Recording"))},
                params=[RECORDING_ID],
                errors=(401, 404, 429),
                op_id="getRecording",
            ),
            "delete": op(
                "Delete a recording and its file",
                TAG,
                {"204": {"description": "Deleted"}},
                params=[RECORDING_ID],
                errors=(401, 404, 409, 429),
                op_id="deleteRecording",
            ),
        },
        "/Recordings/{recording_id}/Audio": {
            "get": op(
                "A recording's audio, by key or by signed URL; Range requests let a player seek",
                TAG,
                {"200": audio, "206": audio},
                params=[RECORDING_ID, *signed],
                errors=(401, 403, 404, 409, 410, 416, 429, 503),
                op_id="getRecordingAudio",
            )
        },
    }
