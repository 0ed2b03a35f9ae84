"""Mobilization settings per organization: own row, else the nearest ancestor's, else config.

App config keys (VOLUNTEER_HUB_EMERGENCY_* in the environment): EMERGENCY_DRILL_HOURS_COUNT,
EMERGENCY_LINK_VALID_HOURS, EMERGENCY_FATIGUE_WINDOW_DAYS.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l

from volunteer_hub.accounts.permissions import require
from volunteer_hub.db import db
from volunteer_hub.emergency.models import EmergencySettings
from volunteer_hub.errors import ValidationFailed
from volunteer_hub.orgs.models import Org
from volunteer_hub.orgs.services import inherited_settings

DEFAULTS = {
    "drill_hours_count": True,
    "link_valid_hours": 24,
    "fatigue_window_days": 14,
}
LIMITS = {"link_valid_hours": (1, 24 * 7), "fatigue_window_days": (0, 365)}


@dataclass(frozen=True)
class Settings:
    drill_hours_count: bool
    link_valid_hours: int
    fatigue_window_days: int


def _config(name: str, default):
    value = current_app.config.get(f"EMERGENCY_{name.upper()}", default)
    if isinstance(value, str):  # from the environment
        if isinstance(default, bool):
            return value.strip().lower() in {"1", "true", "yes", "on"}
        return int(value) if value.strip() else default
    return value


def emergency_settings(org: Org) -> Settings:
    """The org's settings: its own row, else the nearest ancestor's, else the app config."""
    configured = {name: _config(name, default) for name, default in DEFAULTS.items()}
    return Settings(**inherited_settings(EmergencySettings, org, configured))


def _check(name: str, value):
    if value is None:
        return None  # back to inheriting
    if name == "drill_hours_count":
        if not isinstance(value, bool):
            raise ValidationFailed(_l("Give yes or no."), field=name)
        return value
    low, high = LIMITS[name]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationFailed(_l("Give a whole number from %(low)d to %(high)d.",
                                  low=low, high=high), field=name)
    return value


def set_settings(org: Org, changes: dict, *, by) -> EmergencySettings:
    """Change the org's own values; None makes a value inherit again."""
    if by is not None:
        require(by, "emergency.plan", org)
    unknown = set(changes) - set(DEFAULTS)
    if unknown:
        raise ValidationFailed(_l("Unknown setting."), field=sorted(unknown)[0])
    row = db.session.get(EmergencySettings, org.id) or EmergencySettings(org_id=org.id)
    for name, value in changes.items():
        setattr(row, name, _check(name, value))
    db.session.add(row)
    db.session.flush()
    return row
