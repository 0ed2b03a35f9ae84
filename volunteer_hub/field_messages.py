"""marshmallow's and webargs' field messages in the request's language.

Both libraries write their messages in English when they validate, some with values filled
in ("Length must be between 1 and 50."). The error renderer (errors.py) reads each message
back against these templates and gives the translation with the same values; a message that
matches none (the project's own, already translated) passes through unchanged.
"""
from __future__ import annotations

import functools
import re

from flask_babel import gettext


def N_(message: str) -> str:
    """Marks a message for extraction; it is translated when rendered."""
    return message


TEMPLATES = (
    # marshmallow: fields, schemas
    N_("Missing data for required field."),
    N_("Field may not be null."),
    N_("Invalid value."),
    N_("Unknown field."),
    N_("Invalid input type."),
    N_("Invalid type."),
    N_("Not a valid string."),
    N_("Not a valid utf-8 string."),
    N_("Not a valid integer."),
    N_("Not a valid number."),
    N_("Number too large."),
    N_("Special numeric values (nan or infinity) are not permitted."),
    N_("Not a valid boolean."),
    N_("Not a valid date."),
    N_("Not a valid datetime."),
    N_("Not a valid time."),
    N_("Not a valid aware datetime."),
    N_("Not a valid naive datetime."),
    N_("Not a valid period of time."),
    N_("Not a valid mapping type."),
    N_("Not a valid list."),
    N_("Not a valid tuple."),
    N_("Not a valid email address."),
    N_("Not a valid URL."),
    N_("Not a valid UUID."),
    # marshmallow: validators
    N_("Must be one of: {choices}."),
    N_("One or more of the choices you made was not in: {choices}."),
    N_("One or more of the choices you made was in: {values}."),
    N_("Must be equal to {other}."),
    N_("Length must be between {min} and {max}."),
    N_("Length must be {equal}."),
    N_("Longer than maximum length {max}."),
    N_("Shorter than minimum length {min}."),
    N_("Invalid input."),
    N_("String does not match expected pattern."),
    N_("Must be greater than or equal to {min} and less than or equal to {max}."),
    N_("Must be greater than {min} and less than or equal to {max}."),
    N_("Must be greater than or equal to {min} and less than {max}."),
    N_("Must be greater than {min} and less than {max}."),
    N_("Must be greater than or equal to {min}."),
    N_("Must be greater than {min}."),
    N_("Must be less than or equal to {max}."),
    N_("Must be less than {max}."),
    # webargs
    N_("Invalid JSON body."),
)

_PLACEHOLDER = re.compile(r"\\\{(\w+)\\\}")


@functools.cache
def _patterns() -> tuple[tuple[re.Pattern, str], ...]:
    """Each template as an anchored pattern capturing its values by name."""
    return tuple(
        (re.compile("^" + _PLACEHOLDER.sub(r"(?P<\1>.+?)", re.escape(template)) + "$",
                    re.DOTALL), template)
        for template in TEMPLATES)


def translate(message: str) -> str:
    for pattern, template in _patterns():
        match = pattern.match(message)
        if match:  # str.format: the templates use braces, gettext's own formatting uses %
            return gettext(template).format(**match.groupdict())
    return message
