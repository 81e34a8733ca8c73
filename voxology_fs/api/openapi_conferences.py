"""The OpenAPI paths and schemas of the conference endpoints (part of :mod:`voxology_fs.api.openapi`)."""

from __future__ import annotations

TAG = "Conferences"

NAME = {
    "name": "name",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "The conference's name, as the CONFERENCE action gave it (URL-encoded)",
}
CALL_ID = {"name": "call_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}

SCHEMAS = {
    "ConferenceSummary": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "member_count": {"type": "integer"},
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
    "ConferenceMember": {
        "type": "object",
        "properties": {
            "call_id": {"type": "string", "format": "uuid"},
            "muted": {"type": "boolean"},
            "hold": {"type": "boolean", "description": "on hold: hears hold audio, is not heard"},
            "coaching": {"type": "string", "nullable": True, "description": "the call it coaches (speaks to alone)"},
            "joined_at": {"type": "string", "format": "date-time"},
        },
    },
    "Conference": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "member_count": {"type": "integer"},
            "members": {"type": "array", "items": {"$ref": "#/components/schemas/ConferenceMember"}},
        },
    },
    "ParticipantUpdate": {
        "type": "object",
        "minProperties": 1,
        "properties": {
            "muted": {"type": "boolean", "description": "mute (true) or unmute (false) the member"},
            "hold": {"type": "boolean", "description": "put the member on hold (hold audio, not heard) or take it off"},
            "coach": {
                "type": "string",
                "nullable": True,
                "description": "the call id of another member that alone hears this one (it hears everyone); "
                "null: everyone hears it again",
            },
        },
        "additionalProperties": False,
    },
    "Announcement": {
        "type": "object",
        "description": "one of text (said by the switch's TTS) or url (an audio file, played)",
        "properties": {
            "text": {"type": "string", "maxLength": 2000},
            "url": {"type": "string", "format": "uri"},
        },
        "additionalProperties": False,
    },
}


def paths(op, json, ref) -> dict:
    """The paths, built with openapi's own helpers (``_op``, ``_json``, ``_ref``)."""
    return {
        "/Conferences": {
            "get": op(
                "The account's running conferences",
                TAG,
                {
                    "200": json(
                        {
                            "type": "object",
                            "properties": {"conferences": {"type": "array", "items": ref("ConferenceSummary")}},
                        }
                    )
                },
                errors=(401, 429),
                op_id="listConferences",
            )
        },
        "/Conferences/{name}": {
            "get": op(
                "A running conference and its members",
                TAG,
                {"200": json(ref("Conference"))},
                params=[NAME],
                errors=(401, 404, 429),
                op_id="getConference",
            )
        },
        "/Conferences/{name}/Participants/{call_id}": {
            "post": op(
                "Mute or unmute a member, put it on hold and take it off, or make it coach another member",
                TAG,
                {"200": json(ref("ConferenceMember"))},
                params=[NAME, CALL_ID],
                body=ref("ParticipantUpdate"),
                errors=(400, 401, 404, 415, 429, 503),
                op_id="updateParticipant",
            ),
            "delete": op(
                "Remove a member from the room (its flow goes on: conference_end_reason kicked)",
                TAG,
                {"204": {"description": "Removed"}},
                params=[NAME, CALL_ID],
                errors=(401, 404, 429, 503),
                op_id="kickParticipant",
            ),
        },
        "/Conferences/{name}/End": {
            "post": op(
                "End the conference: every member leaves and its flow goes on (conference_end_reason ended_by_api)",
                TAG,
                {
                    "202": json(
                        {"type": "object", "properties": {"name": {"type": "string"}, "status": {"type": "string"}}}
                    )
                },
                params=[NAME],
                errors=(401, 404, 415, 429, 503),
                op_id="endConference",
            )
        },
        "/Conferences/{name}/Announce": {
            "post": op(
                "Say a text or play an audio URL to everyone in the room",
                TAG,
                {
                    "202": json(
                        {"type": "object", "properties": {"name": {"type": "string"}, "status": {"type": "string"}}}
                    )
                },
                params=[NAME],
                body=ref("Announcement"),
                errors=(400, 401, 404, 415, 429, 503),
                op_id="announceToConference",
            )
        },
    }
