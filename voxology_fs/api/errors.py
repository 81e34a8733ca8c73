"""Every error the API answers is JSON: ``{"error": {"code", "message", "field"}}``."""

from __future__ import annotations

import logging

from flask import jsonify
from werkzeug.exceptions import HTTPException, MethodNotAllowed

log = logging.getLogger(__name__)

# HTTP status -> our error code, for errors raised by Flask or Werkzeug.
_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    503: "unavailable",
}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}


def bad_field(field: str, message: str) -> ApiError:
    return ApiError(400, "invalid_field", message, field)


def not_found(message: str, field: str | None = None) -> ApiError:
    return ApiError(404, "not_found", message, field)


def conflict(message: str, field: str | None = None) -> ApiError:
    return ApiError(409, "conflict", message, field)


def error_response(status: int, code: str, message: str, field: str | None = None, headers=None):
    response = jsonify({"error": {"code": code, "message": message, "field": field}})
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def register(app) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.field, exc.headers)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        headers = {}
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            headers["Allow"] = ", ".join(exc.valid_methods)
        return error_response(status, _CODES.get(status, "error"), exc.description or exc.name, None, headers)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unexpected error")
        return error_response(500, "internal_error", "an unexpected error occurred; it has been logged")
