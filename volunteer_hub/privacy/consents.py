"""Consent texts by version; asking again when the text a person agreed to has changed.

The current version of a kind is the latest published consent_texts row of that kind;
without any text for a kind the setting CONSENT_TEXT_VERSION is the version (as before
texts were stored). A person is asked again about the kinds they consented to (and did not
withdraw) under another version: the web asks right after login, the API answers 403
CONSENT_REQUIRED until POST /api/v1/me/consents accepts. Each acceptance is a new consent
row with the version and the time: the record of who accepted what, when.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from volunteer_hub.db import db, utcnow
from volunteer_hub.errors import DomainError, ValidationFailed
from volunteer_hub.privacy.models import ConsentText

# Kinds asked again when their text changes (a guardian's consent is given on paper).
RENEWABLE_KINDS = ("service_terms", "sensitive_data")


class ConsentRequired(DomainError):
    status = 403
    code = "CONSENT_REQUIRED"


@dataclass(frozen=True)
class Pending:
    kind: str
    version: str
    title: str
    text: str


def current_versions() -> dict[str, str]:
    """kind -> the latest published version, for kinds that have texts."""
    latest = (select(ConsentText.kind, func.max(ConsentText.published_at).label("at"))
              .where(ConsentText.published_at <= utcnow().replace(tzinfo=None))
              .group_by(ConsentText.kind).subquery())
    with db.session.no_autoflush:  # called while a registration builds its consent rows
        rows = db.session.execute(
            select(ConsentText.kind, ConsentText.version)
            .join(latest, (latest.c.kind == ConsentText.kind)
                  & (latest.c.at == ConsentText.published_at))).all()
    return {kind: version for kind, version in rows}


def current_version(kind: str) -> str:
    """The version a consent given now records."""
    return current_versions().get(kind) or current_app.config["CONSENT_TEXT_VERSION"]


def pending_kinds(user) -> dict[str, str]:
    """kind -> current version, for each consent of `user` given under an older text."""
    volunteer = getattr(user, "volunteer", None)
    if volunteer is None:
        return {}
    versions = {kind: version for kind, version in current_versions().items()
                if kind in RENEWABLE_KINDS}
    if not versions:
        return {}
    from volunteer_hub.volunteers.models import Consent

    given: dict[str, str] = {}
    for kind, version in db.session.execute(
            select(Consent.kind, Consent.text_version)
            .where(Consent.volunteer_id == volunteer.id, Consent.kind.in_(versions),
                   Consent.withdrawn_at.is_(None))
            .order_by(Consent.granted_at, Consent.id)).all():
        given[kind] = version  # the newest wins
    return {kind: versions[kind] for kind, version in given.items() if version != versions[kind]}


def pending_texts(user, locale: str) -> list[Pending]:
    """What `user` is asked to read again, in `locale` (else Chinese, else any)."""
    from volunteer_hub.volunteers.catalogue import CONSENT_KINDS

    pending = pending_kinds(user)
    result = []
    for kind, version in sorted(pending.items()):
        texts = {row.locale: row.text for row in db.session.execute(
            select(ConsentText).filter_by(kind=kind, version=version)).scalars()}
        text = texts.get(locale) or texts.get("zh_Hans") or next(iter(texts.values()), "")
        result.append(Pending(kind, version, str(CONSENT_KINDS.get(kind, kind)), text))
    return result


def require_consents(user) -> None:
    """Raise ConsentRequired while `user` has a consent to renew."""
    if pending_kinds(user):
        raise ConsentRequired(_l("The terms you agreed to have changed: read and accept them "
                                 "(GET and POST /api/v1/me/consents)."))


def accept(user, accepted: dict[str, str]) -> list:
    """Record `user`'s acceptance of the current texts; `accepted` maps each pending kind
    to the version the person was shown (a text published meanwhile is asked again)."""
    from volunteer_hub.volunteers.models import Consent

    pending = pending_kinds(user)
    stale = {kind: version for kind, version in pending.items()
             if accepted.get(kind) != version}
    if stale:
        raise ValidationFailed(
            _l("Accept the current version of each text: %(texts)s.",
               texts=", ".join(f"{kind} {version}" for kind, version in sorted(stale.items()))),
            code="CONSENT_VERSION", field="accepted")
    rows = [Consent(volunteer=user.volunteer, kind=kind, text_version=version,
                    recorded_by_id=user.id) for kind, version in sorted(pending.items())]
    db.session.add_all(rows)
    db.session.flush()
    return rows


def publish_text(kind: str, version: str, locale: str, text: str, *,
                 published_at=None) -> ConsentText:
    """Store a consent text (the operator's command); from `published_at` on it is current."""
    from volunteer_hub.volunteers.catalogue import CONSENT_KINDS

    if kind not in CONSENT_KINDS:
        raise ValidationFailed(_l("Unknown value: %(values)s", values=kind),
                               code="CONSENT_KIND", field="kind")
    if locale not in current_app.config["LANGUAGES"]:
        raise ValidationFailed(_l("Unknown language."), code="LOCALE_UNKNOWN", field="locale")
    row = ConsentText(kind=kind, version=version.strip()[:20], locale=locale, text=text,
                      published_at=(published_at or utcnow()).replace(tzinfo=None))
    db.session.add(row)
    db.session.flush()
    return row
