"""What an org prints on the certificates it issues: people, contact, credit code, seal.

Whoever records the hours certifies them (MCA order 67): the org that recorded a service is
the certificate's issuer. Its admins set these fields on the org's certificate page or the
API; a certificate cannot be issued while any of ISSUER_FIELDS is empty.

The seal image is kept in the database (never under the web root) and only ever leaves it
inside a certificate, or as a preview for the org's own admins.
"""
from __future__ import annotations

import io

from flask import current_app
from flask_babel import lazy_gettext as _l

from volunteer_hub.accounts.permissions import require
from volunteer_hub.errors import ValidationFailed
from volunteer_hub.orgs import credit_code
from volunteer_hub.orgs.models import ISSUER_FIELDS, Org

SEAL_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg"}
TEXT_LIMITS = {"person_in_charge": 50, "handler": 50, "contact": 100}


def update_issuer(org: Org, changes: dict, *, by) -> Org:
    """Set any of person_in_charge, handler, contact, credit_code (admins of `org`)."""
    if by is not None:
        require(by, "orgs.manage", org, hide=True)
    errors = {}
    for name in ISSUER_FIELDS:
        if name in changes:
            value = (changes[name] or "").strip()
            if len(value) > TEXT_LIMITS[name]:
                errors[name] = [_l("At most %(n)d characters.", n=TEXT_LIMITS[name])]
            else:
                setattr(org, name, value or None)
    if "credit_code" in changes:
        code = credit_code.normalized(changes["credit_code"])
        if code and not credit_code.is_valid(code):
            errors["credit_code"] = [_l("This is not a valid unified social credit code "
                                        "(18 characters, GB 32100 check digit).")]
        else:
            org.credit_code = code or None
    if errors:
        raise ValidationFailed(next(iter(errors.values()))[0], code="ISSUER_INVALID",
                               errors=errors)
    return org


def set_seal(org: Org, data: bytes, *, by) -> Org:
    """Store the org's official seal after checking it is a PNG or JPEG of sane size."""
    if by is not None:
        require(by, "orgs.manage", org, hide=True)
    org.seal_mime = validated_seal_type(data)
    org.seal_image = data
    return org


def clear_seal(org: Org, *, by) -> Org:
    if by is not None:
        require(by, "orgs.manage", org, hide=True)
    org.seal_image = None
    org.seal_mime = None
    return org


def validated_seal_type(data: bytes) -> str:
    """The MIME type of a seal image, or ValidationFailed on the field `seal`."""
    from PIL import Image, UnidentifiedImageError

    config = current_app.config
    if not data:
        raise _seal_error(_l("Choose an image file of the seal."))
    if len(data) > config["ORG_SEAL_MAX_BYTES"]:
        raise _seal_error(_l("The seal image may be at most %(kb)d KB.",
                             kb=config["ORG_SEAL_MAX_BYTES"] // 1024))
    not_an_image = _seal_error(_l("The seal must be a PNG or JPEG image."))
    limit = config["ORG_SEAL_MAX_PIXELS"]
    try:
        with Image.open(io.BytesIO(data)) as image:  # reads the header only
            kind = image.format
            width, height = image.size
        if kind not in SEAL_FORMATS:
            raise not_an_image
        # the size the header declares, before any pixel is decoded (a pixel bomb: a small
        # file declaring a huge image)
        if max(width, height) > limit or min(width, height) < 32:
            raise _seal_error(_l("The seal image must be between 32 and %(px)d pixels on "
                                 "each side.", px=limit))
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # verify() does not decode the pixels of every format
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError,
            Image.DecompressionBombError):
        raise not_an_image from None
    return SEAL_FORMATS[kind]


def _seal_error(message) -> ValidationFailed:
    return ValidationFailed(message, code="SEAL_INVALID", field="seal")
