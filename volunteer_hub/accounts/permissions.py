"""Who may do what, where: roles are granted on an org node and cover its subtree."""
from __future__ import annotations

from sqlalchemy import or_

from volunteer_hub.errors import Forbidden, NotFound

PERMISSIONS: dict[str, frozenset[str]] = {
    "volunteers.read": frozenset({"admin", "organizer", "coordinator"}),
    "volunteers.manage": frozenset({"admin", "organizer"}),
    "volunteers.reveal_id": frozenset({"admin", "organizer"}),
    "orgs.manage": frozenset({"admin"}),
    "roles.manage": frozenset({"admin"}),
    "teams.read": frozenset({"admin", "organizer", "coordinator"}),
    "teams.manage": frozenset({"admin", "organizer", "coordinator"}),
    "records.manage": frozenset({"admin", "organizer"}),
    "records.verify": frozenset({"admin", "organizer"}),
    "timebank.read": frozenset({"admin", "organizer"}),
    "timebank.manage": frozenset({"admin"}),
    "needs.read": frozenset({"admin", "organizer", "coordinator"}),
    "needs.manage": frozenset({"admin", "organizer"}),
    "beneficiaries.manage": frozenset({"admin", "organizer"}),
    "reports.read": frozenset({"admin", "organizer", "coordinator"}),
    "reports.manage": frozenset({"admin", "organizer"}),
    "emergency.read": frozenset({"admin", "organizer", "coordinator"}),
    "emergency.plan": frozenset({"admin", "coordinator"}),
    "emergency.activate": frozenset({"admin", "coordinator"}),
    "emergency.wellbeing": frozenset({"admin", "organizer", "coordinator"}),
    "recognition.read": frozenset({"admin", "organizer", "coordinator"}),
    "recognition.manage": frozenset({"admin", "organizer"}),
}


def scope_paths(user, permission: str) -> list[str]:
    """The org paths under which `user` holds `permission` (empty: nowhere)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    roles = PERMISSIONS[permission]
    return sorted({grant.org.path for grant in user.grants if grant.role in roles})


def can(user, permission: str, org) -> bool:
    return org is not None and any(org.path.startswith(p) for p in scope_paths(user, permission))


def has_any_role(user) -> bool:
    return bool(getattr(user, "grants", None))


def require(user, permission: str, org, *, hide: bool = False) -> None:
    """Raise Forbidden, or NotFound when even the existence of the target must not leak."""
    if not can(user, permission, org):
        raise NotFound() if hide else Forbidden()


def path_filter(column, paths: list[str]):
    """An SQL condition: `column` (an org path) lies in one of the `paths` subtrees."""
    if not paths:
        return column.is_(None) & column.isnot(None)  # matches nothing
    return or_(*[column.startswith(path, autoescape=True) for path in paths])
