"""The OpenAPI document says what the API does: errors, auth, headers (API.md).

Every operation lists the errors it can answer in the one error shape (errors.ErrorSchema);
operations anyone may call declare no bearer auth; idempotent writes document the
`Idempotency-Key` header they take, lists the `X-Pagination` header they answer with.
"""
from __future__ import annotations

from apispec import BasePlugin
from flask_smorest import Api

from volunteer_hub.common_schemas import PAGE_ENVELOPES
from volunteer_hub.errors import ErrorSchema

WRITE_METHODS = ("post", "put", "patch", "delete")

# Operations a person calls without an account (API.md "Anonymous access only where a
# person must act without an account"), by endpoint and method: their security.
NO_BEARER = []
GATEWAY_SECRET = [{"gatewaySecret": []}]
LOGIN = ("accounts_api.Tokens", "post")  # no bearer yet; a wrong password answers 401
PUBLIC_OPERATIONS = {
    LOGIN: NO_BEARER,
    ("volunteers_api.SkillCatalogue", "get"): NO_BEARER,
    ("volunteers_api.CertificationCatalogue", "get"): NO_BEARER,
    ("notify_api.PushKey", "get"): NO_BEARER,
    ("notify_api.PushReceipts", "post"): NO_BEARER,  # signed token from the push payload
    ("notify_api.SmsReceipts", "post"): GATEWAY_SECRET,
    ("notify_api.SmsInbound", "post"): GATEWAY_SECRET,
    ("emergency_api.respond_read", "get"): NO_BEARER,  # the signed link is the credential
    ("emergency_api.respond", "post"): NO_BEARER,
}

GATEWAY_SECRET_SCHEME = {  # bearerAuth, the default, is declared in config.API_SPEC_OPTIONS
    "type": "apiKey", "in": "header", "name": "X-Gateway-Secret",
    "description": "The SMS gateway's shared secret (SMS_GATEWAY_SECRET).",
}

IDEMPOTENCY_MARK = "x-idempotent"  # set by idempotency.idempotent, replaced by the header
IDEMPOTENCY_PARAMETER = {
    "in": "header", "name": "Idempotency-Key", "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "description": "Retry safely: the same key with the same body returns the first "
                   "response (header Idempotent-Replayed: true); with another body, 409.",
}
PAGINATION_HEADER = {
    "description": 'The body\'s pagination as JSON: {"total", "total_pages", "page", '
                   '"page_size"}.',
    "schema": {"type": "string"},
}


class ContractPlugin(BasePlugin):
    """Completes each operation once flask-smorest and marshmallow have described it."""

    def init_spec(self, spec):
        super().init_spec(spec)
        spec.components.security_scheme("gatewaySecret", GATEWAY_SECRET_SCHEME)
        spec.components.parameter("IDEMPOTENCY_KEY", "header", IDEMPOTENCY_PARAMETER)
        spec.components.header("X_PAGINATION", PAGINATION_HEADER)

    def operation_helper(self, path=None, operations=None, **kwargs):
        rule = kwargs.get("rule")
        for method, operation in (operations or {}).items():
            if method not in ("get", *WRITE_METHODS):
                continue
            key = (getattr(rule, "endpoint", None), method)
            security = PUBLIC_OPERATIONS.get(key, operation.get("security"))  # or @blp.doc's
            if security is not None:
                operation["security"] = list(security)
            _document_errors(operation, method, path,
                             authenticated=security != NO_BEARER or key == LOGIN)
            _document_headers(operation)


def _document_errors(operation: dict, method: str, path: str, *, authenticated: bool) -> None:
    """The error statuses this operation can answer, each in the one error shape."""
    responses = operation.setdefault("responses", {})
    takes_input = "requestBody" in operation or any(
        isinstance(p, dict) and p.get("in") == "query" for p in operation.get("parameters", []))
    statuses = {
        400: "BAD_REQUEST" if "requestBody" in operation else None,
        401: "UNAUTHORIZED" if authenticated else None,
        403: "FORBIDDEN" if authenticated or "{" in path else None,
        404: "NOT_FOUND" if "{" in path or "requestBody" in operation else None,
        409: "CONFLICT" if method in WRITE_METHODS else None,
        422: "UNPROCESSABLE_ENTITY" if takes_input else None,
        429: "TOO_MANY_REQUESTS",
    }
    for status, component in statuses.items():
        if component and status not in responses and str(status) not in responses:
            responses[status] = component


def _document_headers(operation: dict) -> None:
    if operation.pop(IDEMPOTENCY_MARK, False):
        operation.setdefault("parameters", []).append("IDEMPOTENCY_KEY")
    for status, response in operation.get("responses", {}).items():
        if str(status).startswith("2") and _is_page(response):
            response.setdefault("headers", {})["X-Pagination"] = "X_PAGINATION"


def _is_page(response) -> bool:
    """A list envelope made by common_schemas.page_of."""
    if not isinstance(response, dict):
        return False
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    reference = schema.get("$ref", "") if isinstance(schema, dict) else str(schema)
    return reference.rsplit("/", 1)[-1] in PAGE_ENVELOPES


class VolunteerHubApi(Api):
    """flask-smorest's Api documenting the error shape errors.py really renders."""

    ERROR_SCHEMA = ErrorSchema

    def __init__(self, *args, **kwargs):
        spec_kwargs = kwargs.pop("spec_kwargs", None) or {}
        spec_kwargs.setdefault("extra_plugins", [ContractPlugin()])
        super().__init__(*args, spec_kwargs=spec_kwargs, **kwargs)
