"""The OpenAPI 3 description of the REST API, built as data."""

from __future__ import annotations

from ..call_status import STATUSES
from . import openapi_conferences, openapi_messages, openapi_queues, openapi_recordings
from .openapi_schemas import SCHEMAS
from .openapi_schemas import ref as _ref


def _json(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict:
    text = {
        400: "Malformed JSON or an invalid field (named in error.field)",
        401: "Missing or unknown API key",
        403: "A signed URL that is not valid or has expired",
        404: "Not found (or not this account's)",
        409: "Conflict with the current state",
        410: "The file is no longer in the store",
        415: "The body is not application/json",
        416: "The range is outside the file",
        429: "Too many requests (see Retry-After), or, placing a call, too many calls placed and not yet ended",
        503: "No FreeSWITCH server is connected, or the recordings' object store cannot be reached",
    }
    return {
        str(s): {"description": text[s], "content": {"application/json": {"schema": _ref("Error")}}} for s in statuses
    }


def _op(
    summary: str,
    tag: str,
    responses: dict,
    *,
    params=(),
    body: dict | None = None,
    errors=(400, 401, 429),
    description: str = "",
    op_id: str,
) -> dict:
    op = {
        "operationId": op_id,
        "summary": summary,
        "tags": [tag],
        "parameters": list(params),
        "responses": {**responses, **_errors(*errors)},
    }
    if description:
        op["description"] = description
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


def _path_no(description="A phone number in E.164, URL-encoded (%2B17145551212)") -> dict:
    return {
        "name": "no",
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "pattern": r"^\+?[0-9()\-. ]{3,20}$", "example": "+17145551212"},
    }


CALL_ID = {"name": "call_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
PAGE = [
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
    {"name": "page_size", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}},
]


def _page(key: str, item: dict) -> dict:
    return {
        "type": "object",
        "required": [key, "page", "page_size", "total", "has_more"],
        "properties": {
            key: {"type": "array", "items": item},
            "page": {"type": "integer"},
            "page_size": {"type": "integer"},
            "total": {"type": "integer"},
            "has_more": {"type": "boolean"},
        },
    }


def build(server_url: str = "/v1") -> dict:
    T_NUM, T_CFG, T_CALL, T_LIVE, T_CID = (
        "Phone Numbers",
        "Call Flow Configurations",
        "Calls",
        "Live Calls",
        "Caller IDs",
    )
    paths = {
        "/PhoneNumbers/Available": {
            "get": _op(
                "List available phone numbers",
                T_NUM,
                {"200": _json(_page("phone_numbers", _ref("PhoneNumber")))},
                op_id="listAvailablePhoneNumbers",
                description="Unassigned numbers of the inventory. With search_by=prefixes a prefix is a prefix of the "
                "national number (an area code such as 714 in North America); a prefix that starts "
                "with + is a prefix of the E.164 number.",
                params=[
                    {"name": "capabilities", "in": "query", "schema": {"type": "string", "example": "voice,sms"}},
                    {
                        "name": "search_by",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["prefixes", "contains", "region", "country"]},
                    },
                    {"name": "search_on", "in": "query", "schema": {"type": "string", "example": "714"}},
                    {"name": "country", "in": "query", "schema": {"type": "string", "example": "US"}},
                    *PAGE,
                ],
            )
        },
        "/PhoneNumbers/CallFlows": {
            "post": _op(
                "Provision phone numbers to CallFlows",
                T_NUM,
                {
                    "201": _json(
                        {
                            "type": "object",
                            "properties": {"phone_numbers": {"type": "array", "items": _ref("PhoneNumber")}},
                        },
                        "Provisioned",
                    )
                },
                body=_ref("Provision"),
                errors=(400, 401, 404, 409, 415, 429),
                op_id="provisionPhoneNumbers",
                description="All or nothing: 404 when a number is not in the inventory, 409 when another account "
                "has it.",
            )
        },
        "/PhoneNumbers": {
            "get": _op(
                "List the account's phone numbers",
                T_NUM,
                {"200": _json(_page("phone_numbers", _ref("PhoneNumber")))},
                params=PAGE,
                op_id="listPhoneNumbers",
            )
        },
        "/PhoneNumbers/{no}": {
            "get": _op(
                "Get a phone number",
                T_NUM,
                {"200": _json(_ref("PhoneNumber"))},
                params=[_path_no()],
                errors=(400, 401, 404, 429),
                op_id="getPhoneNumber",
            ),
            "delete": _op(
                "Release a phone number",
                T_NUM,
                {"204": {"description": "Released"}},
                params=[_path_no()],
                errors=(400, 401, 404, 429),
                op_id="releasePhoneNumber",
            ),
        },
        "/CallFlows/Configurations/PhoneNumbers/{no}": {
            "put": _op(
                "Update a number's Call Flow Configuration",
                T_CFG,
                {"200": _json(_ref("CallFlowConfiguration"))},
                params=[_path_no()],
                body=_ref("CallFlowConfigurationUpdate"),
                errors=(400, 401, 404, 415, 429),
                op_id="putCallFlowConfiguration",
            ),
            "get": _op(
                "Get a number's Call Flow Configuration",
                T_CFG,
                {"200": _json(_ref("CallFlowConfiguration"))},
                params=[_path_no()],
                errors=(400, 401, 404, 429),
                op_id="getCallFlowConfiguration",
            ),
            "delete": _op(
                "Delete a number's Call Flow Configuration",
                T_CFG,
                {"204": {"description": "Deleted"}},
                params=[_path_no()],
                errors=(400, 401, 404, 429),
                op_id="deleteCallFlowConfiguration",
            ),
        },
        "/PhoneNumberInformation/{no}": {
            "get": _op(
                "Information about any phone number",
                T_NUM,
                {"200": _json(_ref("PhoneNumberInformation"))},
                params=[
                    _path_no(),
                    {"name": "include", "in": "query", "schema": {"type": "string", "enum": ["location"]}},
                ],
                op_id="getPhoneNumberInformation",
            )
        },
        "/Dials/Connect": {
            "post": _op(
                "Make a call",
                T_CALL,
                {"201": _json(_ref("Call"), "The call is placed; status queued")},
                body=_ref("MakeCall"),
                errors=(400, 401, 415, 429, 503),
                op_id="makeCall",
                description="Writes the call's record, asks a FreeSWITCH server to dial, and returns at once. When "
                "the call is answered, the caller_id_no number's call flow runs (init_call, direction "
                "outbound) with session_data. Busy, no answer and failure end the record with that status "
                "and send call_ended.",
            )
        },
        "/Calls": {
            "get": _op(
                "List calls",
                T_CALL,
                {"200": _json(_page("calls", _ref("Call")))},
                op_id="listCalls",
                params=[
                    {
                        "name": "status",
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": "One or more of " + ", ".join(STATUSES) + ", comma-separated",
                    },
                    {"name": "direction", "in": "query", "schema": {"type": "string", "enum": ["inbound", "outbound"]}},
                    {"name": "number", "in": "query", "schema": {"type": "string"}},
                    {"name": "start_time_from", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                    {"name": "start_time_to", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                    *PAGE,
                ],
            )
        },
        "/Calls/{call_id}": {
            "get": _op(
                "Get a call",
                T_CALL,
                {"200": _json(_ref("CallDetail"))},
                params=[CALL_ID],
                errors=(401, 404, 429),
                op_id="getCall",
            )
        },
        "/Calls/{call_id}/Events": {
            "get": _op(
                "A call's trace",
                T_CALL,
                {"200": _json(_page("events", _ref("CallEvent")))},
                params=[CALL_ID, *PAGE],
                errors=(400, 401, 404, 429),
                op_id="getCallEvents",
            )
        },
        "/History/Logs/Calls/{call_id}": {
            "get": _op(
                "A call's trace (alias of /Calls/{call_id}/Events)",
                T_CALL,
                {"200": _json(_page("events", _ref("CallEvent")))},
                params=[CALL_ID, *PAGE],
                errors=(400, 401, 404, 429),
                op_id="getCallLog",
            )
        },
        "/Calls/{call_id}/Hangup": {
            "post": _op(
                "Hang up a call",
                T_LIVE,
                {"202": _json(_ref("ControlAccepted"))},
                params=[CALL_ID],
                errors=(400, 401, 404, 409, 415, 429, 503),
                op_id="hangupCall",
            )
        },
        "/Calls/{call_id}/Redirect": {
            "post": _op(
                "Redirect a live call to another callback URL",
                T_LIVE,
                {"202": _json(_ref("ControlAccepted"))},
                params=[CALL_ID],
                body=_ref("Redirect"),
                errors=(400, 401, 404, 409, 415, 429, 503),
                op_id="redirectCall",
            )
        },
        "/Calls/{call_id}/Actions": {
            "post": _op(
                "Run actions on a live call now",
                T_LIVE,
                {"202": _json(_ref("ControlAccepted"))},
                params=[CALL_ID],
                body=_ref("Actions"),
                errors=(400, 401, 404, 409, 415, 429, 503),
                op_id="runActions",
                description="Validated like a callback response; what is playing stops and these actions run.",
            )
        },
        "/Calls/{call_id}/SessionData": {
            "post": _op(
                "Session Data Injection",
                T_LIVE,
                {"202": _json(_ref("ControlAccepted"))},
                params=[CALL_ID],
                body=_ref("SessionData"),
                errors=(400, 401, 404, 409, 415, 429, 503),
                op_id="injectSessionData",
                description="Merges session_data into the call's; the next action, condition and callback see it.",
            )
        },
        "/CallerIds": {
            "get": _op(
                "List caller IDs",
                T_CID,
                {"200": _json(_page("caller_ids", _ref("CallerId")))},
                params=PAGE,
                op_id="listCallerIds",
            ),
            "post": _op(
                "Add a caller ID (places a verification call)",
                T_CID,
                {"201": _json(_ref("CallerId")), "200": _json(_ref("CallerId"), "Already verified")},
                body={"type": "object", "required": ["no"], "properties": {"no": {"type": "string"}}},
                errors=(400, 401, 409, 415, 429, 503),
                op_id="addCallerId",
            ),
        },
        "/CallerIds/{no}": {
            "get": _op(
                "Get a caller ID",
                T_CID,
                {"200": _json(_ref("CallerId"))},
                params=[_path_no()],
                errors=(400, 401, 404, 429),
                op_id="getCallerId",
            ),
            "delete": _op(
                "Delete a caller ID",
                T_CID,
                {"204": {"description": "Deleted"}},
                params=[_path_no()],
                errors=(400, 401, 404, 429),
                op_id="deleteCallerId",
            ),
        },
        "/CallerIds/{no}/Verify": {
            "post": _op(
                "Verify a caller ID with the code its call spoke",
                T_CID,
                {"200": _json(_ref("CallerId"))},
                params=[_path_no()],
                body={"type": "object", "required": ["code"], "properties": {"code": {"type": "string"}}},
                errors=(400, 401, 404, 409, 415, 429),
                op_id="verifyCallerId",
            )
        },
        "/CallerIds/{no}/Call": {
            "post": _op(
                "Place a new verification call",
                T_CID,
                {"202": _json(_ref("CallerId"))},
                params=[_path_no()],
                errors=(400, 401, 404, 409, 415, 429, 503),
                op_id="callCallerIdAgain",
            )
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "voxology-fs REST API",
            "version": "1",
            "description": "Make, receive and control phone calls on your own FreeSWITCH. Every request "
            "carries the application's API key in the x-api-key header. Every error is JSON: "
            '{"error": {"code", "message", "field"}}.',
        },
        "servers": [{"url": server_url}],
        "security": [{"ApiKey": []}],
        "paths": {
            **paths,
            **openapi_conferences.paths(_op, _json, _ref),
            **openapi_queues.paths(_op, _json, _ref),
            **openapi_recordings.paths(_op, _json, _ref, _page, PAGE),
            **openapi_messages.paths(_op, _json, _ref, _page, PAGE),
        },
        "components": {
            "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"}},
            "schemas": {
                **SCHEMAS,
                **openapi_conferences.SCHEMAS,
                **openapi_queues.SCHEMAS,
                **openapi_recordings.SCHEMAS,
                **openapi_messages.SCHEMAS,
            },
        },
    }
