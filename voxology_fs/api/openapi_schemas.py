"""The OpenAPI 3 schemas of the REST API's bodies (``components/schemas``)."""

from __future__ import annotations

from ..call_status import STATUSES
from ..callbacks import CONTENT_TYPES


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


NULLABLE_STR = {"type": "string", "nullable": True}
SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "field"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "field": NULLABLE_STR},
            }
        },
    },
    "Location": {
        "type": "object",
        "properties": {k: {"type": "string"} for k in ("city", "region", "country", "timezone")},
    },
    "PhoneNumber": {
        "type": "object",
        "properties": {
            "no": {"type": "string", "example": "+17145551212"},
            "capabilities": {"type": "array", "items": {"type": "string", "enum": ["voice", "sms"]}},
            "country": {"type": "string"},
            "service": {"type": "string", "nullable": True, "enum": ["CallFlows", "CallerID", None]},
            "application_id": NULLABLE_STR,
            "assigned_at": {"type": "string", "format": "date-time", "nullable": True},
            "location": ref("Location"),
            "call_flow_configuration": {"allOf": [ref("CallFlowConfiguration")], "nullable": True},
        },
    },
    "Callback": {
        "type": "object",
        "required": ["url"],
        "properties": {
            "method": {"type": "string", "enum": ["GET", "POST"], "default": "POST"},
            "url": {"type": "string", "format": "uri", "description": "http or https"},
            "content_type": {"type": "string", "enum": list(CONTENT_TYPES), "default": "application/json"},
        },
    },
    "Fallback": {
        "type": "object",
        "required": ["url"],
        "properties": {
            "method": {"type": "string", "enum": ["GET", "POST"]},
            "url": {"type": "string", "format": "uri"},
        },
    },
    "CallFlowConfigurationUpdate": {
        "type": "object",
        "required": ["callback"],
        "properties": {"callback": ref("Callback"), "fallback": ref("Fallback")},
    },
    "CallFlowConfiguration": {
        "type": "object",
        "properties": {
            "no": {"type": "string"},
            "callback": ref("Callback"),
            "fallback": {"allOf": [ref("Fallback")], "nullable": True},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    },
    "PhoneNumberInformation": {
        "type": "object",
        "properties": {
            "no": {"type": "string"},
            "country_code": {"type": "integer"},
            "national_number": {"type": "string"},
            "valid": {"type": "boolean"},
            "type": {"type": "string"},
            "country": {"type": "string"},
            "location": ref("Location"),
        },
    },
    "Provision": {
        "type": "object",
        "required": ["phone_numbers"],
        "properties": {
            "phone_numbers": {
                "type": "array",
                "minItems": 1,
                "maxItems": 100,
                "items": {"type": "object", "required": ["no"], "properties": {"no": {"type": "string"}}},
            }
        },
    },
    "MakeCall": {
        "type": "object",
        "required": ["call"],
        "properties": {
            "call": {
                "type": "object",
                "required": ["no", "caller_id_no"],
                "properties": {
                    "no": {"type": "string", "description": "The number to call"},
                    "caller_id_no": {
                        "type": "string",
                        "description": "A number of the account or a verified caller "
                        "ID, with a Call Flow Configuration; its flow runs",
                    },
                },
            },
            "session_data": {"type": "object", "additionalProperties": True},
            "timeout": {
                "type": "integer",
                "minimum": 1,
                "maximum": 600,
                "default": 60,
                "description": "Seconds of ringing before no-answer",
            },
            "max_call_time": {
                "type": "integer",
                "minimum": 1000,
                "maximum": 86400000,
                "description": "Milliseconds; the call is hung up (ALLOTTED_TIMEOUT) when it runs out",
            },
            "record": {
                "oneOf": [{"type": "boolean"}, {"type": "string", "enum": ["dual"]}],
                "default": False,
                "description": "Record the call from the answer: true (both parties, one channel) or "
                "dual (one party per channel); call_ended carries it in recordings",
            },
            "detection": {
                "type": "string",
                "enum": ["detect", "detect_message_end"],
                "description": "Answering-machine detection on answer; init_call carries the verdict",
            },
        },
    },
    "Call": {
        "type": "object",
        "properties": {
            "call_id": {"type": "string", "format": "uuid"},
            "app_id": NULLABLE_STR,
            "direction": {"type": "string", "enum": ["inbound", "outbound"]},
            "status": {"type": "string", "enum": list(STATUSES)},
            "caller_no": {"type": "string"},
            "api_no": {"type": "string"},
            "to_no": NULLABLE_STR,
            "start_time": {"type": "string", "format": "date-time"},
            "answer_time": {"type": "string", "format": "date-time", "nullable": True},
            "end_time": {"type": "string", "format": "date-time", "nullable": True},
            "duration": {"type": "integer", "nullable": True, "description": "Milliseconds"},
            "talk_time": {"type": "integer", "nullable": True, "description": "Milliseconds from answer to end"},
            "hangup_cause": NULLABLE_STR,
            "session_data": {"type": "object", "nullable": True},
            "custom_data": {"nullable": True},
            "key_presses": {"type": "array", "items": {"type": "object"}},
            "recordings": {"type": "array", "items": {"type": "object"}},
            "detection": NULLABLE_STR,
            "errors": {"type": "array", "items": {"type": "object"}},
            "timeout": {"type": "integer", "nullable": True},
            "max_call_time": {"type": "integer", "nullable": True},
        },
    },
    "Leg": {
        "type": "object",
        "description": "One channel of the call on the switch",
        "properties": {
            "leg_id": {"type": "string", "format": "uuid"},
            "role": {
                "type": "string",
                "enum": ["caller", "dialed"],
                "description": "caller: the leg the call arrived on, or the one Make Call placed; "
                "dialed: a leg the call dialled",
            },
            "direction": {"type": "string", "enum": ["inbound", "outbound"]},
            "from_no": {"type": "string"},
            "to_no": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
            "ringing_at": {"type": "string", "format": "date-time", "nullable": True},
            "answered_at": {"type": "string", "format": "date-time", "nullable": True},
            "bridged_to": {"type": "string", "nullable": True, "description": "The leg_id this leg is bridged to"},
            "bridged_at": {"type": "string", "format": "date-time", "nullable": True},
            "ended_at": {"type": "string", "format": "date-time", "nullable": True},
            "hangup_cause": NULLABLE_STR,
            "sip_code": {"type": "integer", "nullable": True},
        },
    },
    "CallDetail": {
        "allOf": [
            ref("Call"),
            {
                "type": "object",
                "properties": {
                    "legs": {"type": "array", "items": ref("Leg")},
                    "parent_call_id": {
                        "type": "string",
                        "nullable": True,
                        "description": "The call this one was started from, if any",
                    },
                    "child_calls": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "Ids of the calls started from this one",
                    },
                },
            },
        ]
    },
    "CallEvent": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "at": {"type": "string", "format": "date-time"},
            "kind": {"type": "string"},
            "data": {"nullable": True},
        },
    },
    "ControlAccepted": {
        "type": "object",
        "properties": {
            "call_id": {"type": "string"},
            "command": {"type": "string"},
            "status": {"type": "string", "enum": ["sent", "stored"]},
        },
    },
    "Redirect": {
        "type": "object",
        "required": ["url"],
        "properties": {
            "url": {"type": "string", "format": "uri"},
            "method": {"type": "string", "enum": ["GET", "POST"]},
            "content_type": {"type": "string", "enum": list(CONTENT_TYPES)},
        },
    },
    "Actions": {
        "type": "object",
        "required": ["actions"],
        "properties": {
            "actions": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "object", "required": ["type"], "properties": {"type": {"type": "string"}}},
            }
        },
    },
    "SessionData": {
        "type": "object",
        "required": ["session_data"],
        "properties": {"session_data": {"type": "object", "additionalProperties": True}},
    },
    "CallerId": {
        "type": "object",
        "properties": {
            "no": {"type": "string"},
            "verified": {"type": "boolean"},
            "verified_at": {"type": "string", "format": "date-time", "nullable": True},
            "created_at": {"type": "string", "format": "date-time"},
            "verification_expires_at": {"type": "string", "format": "date-time", "nullable": True},
        },
    },
}
