"""How many check-in attempts a person may make: a 6-digit code is guessed by trying.

Counted per person, not per address: a team at the door shares the community's Wi-Fi, and
one address would lock them all out after a few typos. Anonymous callers count per address.
"""
from __future__ import annotations

from flask import current_app
from flask_limiter.util import get_remote_address
from flask_login import current_user

from volunteer_hub.accounts.auth import bearer_user


def check_in_limit() -> str:
    return current_app.config["CHECK_IN_RATE_LIMIT"]


def check_in_limit_key() -> str:
    user = bearer_user() or (current_user if current_user.is_authenticated else None)
    return f"check-in:user:{user.id}" if user is not None else get_remote_address()
