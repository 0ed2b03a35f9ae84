"""Domain errors with stable codes, and the one place that renders every error.

Under /api an error is JSON in one shape (API.md); elsewhere it is a page in the
user's language. A user never sees a stack trace.
"""
from __future__ import annotations

import logging

from flask import jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException, InternalServerError

from volunteer_hub.field_messages import translate

log = logging.getLogger(__name__)

HTTP_ERROR_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    428: "PRECONDITION_REQUIRED",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
}

HTTP_MESSAGES = {
    400: _l("The request could not be understood."),
    401: _l("Please log in first."),
    403: _l("You are not allowed to do this."),
    404: _l("Not found."),
    405: _l("This method is not allowed here."),
    409: _l("This conflicts with the current state."),
    413: _l("The request is too large."),
    422: _l("Some fields are not valid: please correct them."),
    429: _l("Too many attempts: please wait a minute and try again."),
    500: _l("Something went wrong on our side. Nothing you saved was lost."),
}


class DomainError(Exception):
    """A rule of the domain was broken; `code` is stable, `message` is translatable."""

    status = 400
    code = "DOMAIN_ERROR"

    def __init__(self, message, *, code: str | None = None, status: int | None = None,
                 field: str | None = None, errors: dict | None = None,
                 location: str = "json"):
        super().__init__(str(message))
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.errors = errors or ({field: [message]} if field else None)
        self.location = location  # where the fields are: json, query, headers


class ValidationFailed(DomainError):
    status = 422
    code = "VALIDATION_ERROR"


class NotFound(DomainError):
    status = 404
    code = "NOT_FOUND"

    def __init__(self, message=None, **kwargs):
        super().__init__(message or HTTP_MESSAGES[404], **kwargs)


class Forbidden(DomainError):
    status = 403
    code = "FORBIDDEN"

    def __init__(self, message=None, **kwargs):
        super().__init__(message or HTTP_MESSAGES[403], **kwargs)


class Conflict(DomainError):
    status = 409
    code = "CONFLICT"


class ErrorSchema(Schema):
    """The one error shape (API.md), as error_payload renders it: documentation only."""

    code = fields.Integer(required=True, metadata={"description": "HTTP status"})
    status = fields.String(required=True, metadata={"description": "HTTP status name"})
    error = fields.String(required=True, metadata={
        "description": "Stable error code, e.g. VALIDATION_ERROR, ID_FORMAT"})
    message = fields.String(required=True, metadata={
        "description": "What went wrong, in the request's language"})
    errors = fields.Dict(
        keys=fields.String(), values=fields.Raw(),
        metadata={"description": "Field messages by location (json, query, headers), "
                                 'e.g. {"json": {"id_number": ["..."]}}'})


def wants_json() -> bool:
    return request.path.startswith("/api/")


def error_payload(status: int, code: str, message, errors: dict | None = None) -> dict:
    from werkzeug.http import HTTP_STATUS_CODES

    payload = {
        "code": status,
        "status": HTTP_STATUS_CODES.get(status, "Error"),
        "error": code,
        "message": str(message),
    }
    if errors:
        payload["errors"] = _stringify(errors)
    return payload


def _stringify(value):
    """Field messages as text in the request's language (marshmallow's too)."""
    if isinstance(value, dict):
        return {str(k): _stringify(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_stringify(v) for v in value]
    return translate(str(value))


def _render(status: int, code: str, message, errors=None, headers=None):
    if wants_json():
        response = jsonify(error_payload(status, code, message, errors))
    else:
        response = render_template(
            "error.html", status=status, code=code, message=str(message), errors=errors
        )
    return response, status, headers or {}


def handle_domain_error(error: DomainError):
    errors = {error.location: error.errors} if error.errors and wants_json() else error.errors
    return _render(error.status, error.code, error.message, errors)


def handle_http_exception(error: HTTPException):
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    errors = data.get("messages") or data.get("errors")
    headers = dict(data.get("headers") or {})
    message = data.get("message") or HTTP_MESSAGES.get(status) or error.description
    code = data.get("error_code") or HTTP_ERROR_CODES.get(status, "HTTP_ERROR")
    return _render(status, code, message, errors, headers)


def handle_overflow(error: Exception):
    """A number in the input too large for the database (ids in bodies and queries):
    OverflowError from SQLite's driver, DataError from PostgreSQL's."""
    from volunteer_hub.db import db

    db.session.rollback()
    return _render(422, "VALIDATION_ERROR", _l("A number in the request is too large."))


def handle_integrity_error(error: Exception):
    """A unique index broken by a concurrent request that passed the same "is it taken?"
    read (PostgreSQL lets both read; a double tap on a sign-up) is a 409 the client can act
    on; any other integrity failure (NOT NULL, foreign key) is a bug: 500."""
    from volunteer_hub.db import db

    db.session.rollback()
    orig = getattr(error, "orig", None)
    unique = getattr(orig, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in str(
        orig)
    if not unique:
        return handle_unexpected(error)
    log.info("Unique conflict on %s %s: %s", request.method, request.path,
             type(orig).__name__)
    return _render(409, "CONFLICT", HTTP_MESSAGES[409])


def handle_unexpected(error: Exception):
    log.exception("Unhandled error on %s %s", request.method, request.path)
    return _render(500, "INTERNAL_ERROR", HTTP_MESSAGES[500])


def register_error_handlers(app) -> None:
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    from sqlalchemy.exc import DataError, IntegrityError

    app.register_error_handler(OverflowError, handle_overflow)
    app.register_error_handler(DataError, handle_overflow)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(InternalServerError, handle_unexpected)
    app.register_error_handler(Exception, handle_unexpected)
