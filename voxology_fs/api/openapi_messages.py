"""The OpenAPI paths and schemas of the text-message endpoints (part of :mod:`voxology_fs.api.openapi`)."""

from __future__ import annotations

TAG = "Messages"

SCHEMAS: dict[str, dict] = {
    "Message": {
        "type": "object",
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "message_id": {"type": "string", "format": "uuid", "description": "the same as id"},
            "direction": {"type": "string", "enum": ["inbound", "outbound"]},
            "from": {"type": "string"},
            "to": {"type": "string"},
            "text": {"type": "string"},
            "status": {"type": "string", "enum": ["queued", "sent", "delivered", "failed", "received"]},
            "error": {"type": "string", "nullable": True},
            "sip_code": {"type": "integer", "nullable": True, "description": "the next hop's answer"},
            "call_id": {"type": "string", "nullable": True},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    },
    "Receipt": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string", "example": "delivered"}},
    },
    "ReceiptAnswer": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "status": {"type": "string", "enum": ["queued", "sent", "delivered", "failed"]},
        },
    },
    "SendSms": {
        "type": "object",
        "required": ["call", "message"],
        "properties": {
            "call": {
                "type": "object",
                "required": ["no", "caller_id_no"],
                "properties": {
                    "no": {"type": "string", "description": "the number the text goes to"},
                    "caller_id_no": {"type": "string", "description": "a number of the account able to send texts"},
                },
            },
            "message": {"type": "string", "maxLength": 1600},
            "status_url": {"type": "string", "format": "uri", "description": "hears when it is sent or fails"},
        },
    },
}


def paths(op, json, ref, page, page_params) -> dict:
    message_id = {"name": "message_id", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "/Dials/SMS": {
            "post": op(
                "Send a text message from one of the account's numbers",
                TAG,
                {"201": json(ref("Message"))},
                body=ref("SendSms"),
                errors=(400, 401, 415, 429, 503),
                op_id="sendSms",
            )
        },
        "/Messages": {
            "get": op(
                "The account's messages, newest first",
                TAG,
                {"200": json(page("messages", ref("Message")))},
                params=[
                    *page_params,
                    {"name": "direction", "in": "query", "schema": {"type": "string", "enum": ["inbound", "outbound"]}},
                    {"name": "status", "in": "query", "schema": {"type": "string"}},
                ],
                op_id="listMessages",
            )
        },
        "/Messages/{message_id}": {
            "get": op(
                "A message",
                TAG,
                {"200": json(ref("Message"))},
                params=[message_id],
                errors=(401, 404, 429),
                op_id="getMessage",
            )
        },
        "/Messages/{message_id}/Receipt": {
            "post": {
                **op(
                    "An HTTP SMS provider's delivery receipt, to the signed URL it was given with the text",
                    TAG,
                    {"200": json(ref("ReceiptAnswer"))},
                    params=[
                        message_id,
                        {"name": "expires", "in": "query", "required": True, "schema": {"type": "integer"}},
                        {"name": "signature", "in": "query", "required": True, "schema": {"type": "string"}},
                    ],
                    body=ref("Receipt"),
                    errors=(400, 403, 404),
                    description="No API key: the signature opens this message's receipt only, until it expires. "
                    "The body may also be a form; its status field is named by the sms_receipt_status_field "
                    "setting (delivered, or failed, undelivered, rejected, expired; others change nothing).",
                    op_id="smsReceipt",
                ),
                "security": [],
            }
        },
    }
