"""Input no part of the application can handle is refused at the edge (issue 11, item 5).

Before any view or schema reads the request:
- a JSON body nested deeper than MAX_JSON_DEPTH answers 400 JSON_TOO_DEEP (Python's parser
  recurses per level: 5,000 levels end in RecursionError, a 500);
- a lone surrogate (JSON's "\\ud800" escape decodes to one) or a NUL ("\\u0000") in any JSON
  string, query or form value or key answers 400 INVALID_CHARACTER naming the field: a lone
  surrogate cannot be encoded and PostgreSQL's text cannot hold a NUL, so either would fail
  later in the database, a template or a log.
Both answers come in the request's language, like every other error (errors.py).
"""
from __future__ import annotations

import re

from flask import request
from flask_babel import lazy_gettext as _l

from volunteer_hub.errors import DomainError

MAX_JSON_DEPTH = 64
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# The closing quote is optional so that every match succeeds where it starts: an unclosed
# string then runs to the end once, instead of the search restarting at each of its quotes
# (quadratic: a 40 KB body of escaped quotes took 15 s).
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"?', re.DOTALL)
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))
_OPENING = frozenset(b"[{")


class BadInput(DomainError):
    status = 400
    code = "BAD_REQUEST"


def init_request_guards(app) -> None:
    app.before_request(refuse_bad_input)


def refuse_bad_input() -> None:
    for location, values in (("query", request.args), ("form", request.form)):
        for key, value in values.items(multi=True):
            if _has_unstorable(key) or _has_unstorable(value):
                raise _invalid_character(location, key)
    if request.is_json:
        _refuse_bad_json()


def _refuse_bad_json() -> None:
    if too_deep(request.get_data(cache=True)):
        raise BadInput(_l("The JSON body is nested more than %(depth)d levels deep.",
                          depth=MAX_JSON_DEPTH), code="JSON_TOO_DEEP")
    body = request.get_json(silent=True)  # malformed JSON is the schemas' 400 to give
    field = first_unstorable(body)
    if field is not None:
        raise _invalid_character("json", field)


def _invalid_character(location: str, field: str) -> BadInput:
    printable = _UNSTORABLE.sub("\ufffd", field) or "_body"  # a key may hold one too
    return BadInput(_l("This text holds a character that cannot be stored (a NUL or a lone UTF-16 surrogate)."),
                    code="INVALID_CHARACTER", field=printable, location=location)


def too_deep(data: bytes) -> bool:
    """Whether arrays and objects nest more than MAX_JSON_DEPTH levels; a body with fewer
    opening brackets than that (most) is not scanned."""
    if data.count(b"[") + data.count(b"{") <= MAX_JSON_DEPTH:
        return False
    return json_depth(data) > MAX_JSON_DEPTH


def json_depth(data: bytes) -> int:
    """How deeply arrays and objects nest in a JSON text, brackets inside strings aside."""
    brackets = _JSON_STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    depth = deepest = 0
    for byte in brackets:
        if byte in _OPENING:
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def first_unstorable(value, path: str = "") -> str | None:
    """The dotted path ("roles.0.code") of the first string or key holding a NUL or a lone
    surrogate, or None. Nesting is already bounded by MAX_JSON_DEPTH."""
    if isinstance(value, str):
        return path if _has_unstorable(value) else None
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        where = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and _has_unstorable(key):
            return where
        found = first_unstorable(item, where)
        if found is not None:
            return found
    return None


def _has_unstorable(text: str) -> bool:
    return _UNSTORABLE.search(text) is not None
