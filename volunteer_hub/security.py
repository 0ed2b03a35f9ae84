"""Secrets at rest: encrypted fields, keyed hashes, password hashing, API tokens."""
from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken
from flask import current_app

def _password_hasher() -> PasswordHasher:
    """Argon2id with the library's defaults; tests lower the cost through config."""
    params = current_app.config.get("ARGON2_PARAMETERS") or {}
    return PasswordHasher(**params)


def hash_password(password: str) -> str:
    return _password_hasher().hash(password)


def check_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _password_hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _fernet() -> Fernet:
    return Fernet(current_app.config["DATA_ENCRYPTION_KEY"].encode())


def encrypt(value: str | None) -> str | None:
    """Encrypt a sensitive value (AES-128-CBC + HMAC via Fernet) for storage."""
    if value is None:
        return None
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str | None) -> str | None:
    if token is None:
        return None
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:  # a rotated or wrong key: show nothing rather than fail the page
        current_app.logger.error("Could not decrypt a stored value: check DATA_ENCRYPTION_KEY")
        return None


def keyed_hash(value: str) -> str:
    """HMAC-SHA256 under the deployment's key: equal inputs match, the input stays secret."""
    key = current_app.config["ID_HASH_KEY"].encode()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def new_api_token() -> tuple[str, str]:
    """Return (token shown once to the user, its SHA-256 stored in the database)."""
    token = "vh_" + secrets.token_urlsafe(32)
    return token, token_digest(token)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
