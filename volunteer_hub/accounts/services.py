"""Account services: authentication, tokens, passwords, roles, language."""
from __future__ import annotations

import re
import secrets

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_

from volunteer_hub.accounts.models import ROLES, ApiToken, RoleGrant, User
from volunteer_hub.accounts.permissions import require
from volunteer_hub.db import db, utcnow
from volunteer_hub.errors import Conflict, DomainError, NotFound, ValidationFailed
from volunteer_hub.security import check_password, hash_password, new_api_token
from volunteer_hub.volunteers.idnumbers import ascii_digits

PHONE_RE = re.compile(r"^1[3-9][0-9]{9}$")  # ASCII digits only, after ascii_digits()
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class InvalidCredentials(DomainError):
    status = 401
    code = "INVALID_CREDENTIALS"


def normalize_phone(phone: str) -> str:
    """Mainland mobile numbers: ASCII digits, no spaces, dashes or +86 / 0086 prefix.

    One number has one spelling, so full-width or other scripts' digits find the same account.
    """
    value = re.sub(r"[\s-]", "", ascii_digits(phone or ""))
    value = re.sub(r"^(\+86|0086)", "", value)
    if not PHONE_RE.match(value):
        raise ValidationFailed(
            _l("Enter an 11-digit mainland mobile number starting with 1, e.g. 13800138000."),
            code="PHONE_FORMAT", field="phone",
        )
    return value


def normalize_email(email: str | None) -> str | None:
    value = (email or "").strip().lower() or None
    if value and not EMAIL_RE.match(value):
        raise ValidationFailed(_l("Enter a valid e-mail address."), code="EMAIL_FORMAT",
                               field="email")
    return value


def check_password_strength(password: str, field: str = "password") -> None:
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(password or "") < minimum or password.isdigit() or password.isalpha():
        raise ValidationFailed(
            _l("Use a password of at least %(n)d characters, mixing letters and digits.", n=minimum),
            code="PASSWORD_WEAK", field=field,
        )


def find_user_by_login(identifier: str) -> User | None:
    value = (identifier or "").strip()
    candidates = {value.lower()}
    try:
        candidates.add(normalize_phone(value))
    except ValidationFailed:
        pass
    return db.session.execute(
        db.select(User).where(or_(User.phone.in_(candidates), User.email.in_(candidates)))
    ).scalars().first()


def create_user(*, display_name: str, password: str, phone: str | None = None,
                email: str | None = None, locale: str | None = None) -> User:
    phone = normalize_phone(phone) if phone else None
    email = normalize_email(email)
    if not phone and not email:
        raise ValidationFailed(_l("Give a phone number or an e-mail address."),
                               code="LOGIN_REQUIRED", field="phone")
    check_password_strength(password)
    if phone and db.session.execute(db.select(User.id).filter_by(phone=phone)).first():
        raise Conflict(_l("This phone number already has an account: log in instead."),
                       code="PHONE_TAKEN", field="phone")
    if email and db.session.execute(db.select(User.id).filter_by(email=email)).first():
        raise Conflict(_l("This e-mail address already has an account: log in instead."),
                       code="EMAIL_TAKEN", field="email")
    user = User(display_name=display_name, phone=phone, email=email,
                password_hash=hash_password(password), locale=locale)
    db.session.add(user)
    db.session.flush()
    return user


def authenticate(identifier: str, password: str) -> User:
    user = find_user_by_login(identifier)
    if user is None or not user.active or not check_password(user.password_hash, password):
        raise InvalidCredentials(_l("Wrong phone/e-mail or password."))
    user.last_login_at = utcnow()
    return user


def change_password(user: User, current: str, new: str) -> None:
    if not check_password(user.password_hash, current):
        raise ValidationFailed(_l("The current password is not right."),
                               code="PASSWORD_WRONG", field="current_password")
    check_password_strength(new, field="new_password")
    user.password_hash = hash_password(new)
    user.must_change_password = False


def reset_password(target: User, *, by: User) -> str:
    """An organizer of the volunteer's community sets a one-time password to hand over."""
    volunteer = target.volunteer
    if volunteer is None:
        raise NotFound()
    require(by, "volunteers.manage", volunteer.community, hide=True)
    temporary = f"{secrets.choice('ABCDEFGHJKLMNPQRSTUVWXYZ')}{secrets.randbelow(10**7):07d}"
    target.password_hash = hash_password(temporary)
    target.must_change_password = True
    for token in target.tokens:  # a reset means the old credentials may be compromised
        token.revoked_at = token.revoked_at or utcnow()
    return temporary


def create_token(user: User, name: str) -> tuple[ApiToken, str]:
    token, digest = new_api_token()
    record = ApiToken(user=user, name=name.strip() or "token", digest=digest, prefix=token[:10])
    db.session.add(record)
    db.session.flush()
    return record, token


def revoke_token(user: User, token_id: int) -> ApiToken:
    record = db.session.get(ApiToken, token_id)
    if record is None or record.user_id != user.id:
        raise NotFound()
    record.revoked_at = record.revoked_at or utcnow()
    return record


def grant_role(user: User, org, role: str, *, by: User | None) -> RoleGrant:
    if role not in ROLES:
        raise ValidationFailed(_l("Unknown role."), code="ROLE_UNKNOWN", field="role")
    if by is not None:
        require(by, "roles.manage", org)
    existing = db.session.execute(
        db.select(RoleGrant).filter_by(user_id=user.id, org_id=org.id, role=role)
    ).scalar_one_or_none()
    if existing:
        return existing
    grant = RoleGrant(user=user, org_id=org.id, role=role, granted_by_id=by.id if by else None)
    grant.org = org
    db.session.add(grant)
    db.session.flush()
    return grant


def revoke_role(grant: RoleGrant, *, by: User) -> None:
    require(by, "roles.manage", grant.org)
    db.session.delete(grant)


def set_locale(user: User, locale: str) -> None:
    if locale not in current_app.config["LANGUAGES"]:
        raise ValidationFailed(_l("Unknown language."), code="LOCALE_UNKNOWN", field="locale")
    user.locale = locale
