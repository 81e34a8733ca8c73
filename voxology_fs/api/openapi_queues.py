"""The OpenAPI paths and schemas of the queue endpoints (part of :mod:`voxology_fs.api.openapi`)."""

from __future__ import annotations

TAG = "Queues"

NAME = {
    "name": "name",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "The queue's name, as the QUEUE action gave it (URL-encoded)",
}
MEMBER = {
    "name": "member",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "A waiting caller's call id, or front (the caller who has waited longest)",
}

SCHEMAS = {
    "QueueSummary": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "size": {"type": "integer", "description": "callers waiting"},
            "average_wait": {"type": "integer", "description": "seconds the waiting callers have waited, on average"},
            "longest_wait": {"type": "integer", "description": "seconds"},
        },
    },
    "QueueMember": {
        "type": "object",
        "properties": {
            "position": {"type": "integer", "description": "1 is next"},
            "call_id": {"type": "string", "format": "uuid"},
            "joined_at": {"type": "string", "format": "date-time"},
            "wait_time": {"type": "integer", "description": "seconds"},
        },
    },
    "QueueMembers": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "size": {"type": "integer"},
            "members": {"type": "array", "items": {"$ref": "#/components/schemas/QueueMember"}},
        },
    },
    "QueueMemberTake": {
        "type": "object",
        "description": "Exactly one of url and to",
        "properties": {
            "url": {"type": "string", "format": "uri", "description": "a flow the caller runs now"},
            "method": {"type": "string", "enum": ["GET", "POST"], "default": "POST"},
            "to": {"type": "string", "description": "an E.164 number the caller is connected to (a TRANSFER)"},
        },
        "additionalProperties": False,
    },
}


def paths(op, json, ref) -> dict:
    """The paths, built with openapi's own helpers (``_op``, ``_json``, ``_ref``)."""
    sent = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "call_id": {"type": "string", "format": "uuid"},
            "command": {"type": "string"},
            "status": {"type": "string"},
        },
    }
    return {
        "/Queues": {
            "get": op(
                "The account's queues with callers waiting",
                TAG,
                {
                    "200": json(
                        {"type": "object", "properties": {"queues": {"type": "array", "items": ref("QueueSummary")}}}
                    )
                },
                errors=(401, 429),
                op_id="listQueues",
            )
        },
        "/Queues/{name}/Members": {
            "get": op(
                "The callers waiting in a queue, in order",
                TAG,
                {"200": json(ref("QueueMembers"))},
                params=[NAME],
                errors=(401, 404, 429),
                op_id="listQueueMembers",
            )
        },
        "/Queues/{name}/Members/{member}": {
            "post": op(
                "Take a waiting caller out of the queue (queue_result leave) to a flow URL or a number",
                TAG,
                {"202": json(sent)},
                params=[NAME, MEMBER],
                body=ref("QueueMemberTake"),
                errors=(400, 401, 404, 409, 415, 429, 503),
                op_id="takeQueueMember",
            )
        },
    }
