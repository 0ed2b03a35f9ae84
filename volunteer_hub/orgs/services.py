"""Organization tree and team services."""
from __future__ import annotations

from datetime import date

from flask import current_app
from flask_babel import lazy_gettext as _l

from volunteer_hub.accounts.permissions import path_filter, require, scope_paths
from volunteer_hub.db import db
from volunteer_hub.errors import Conflict, NotFound, ValidationFailed
from volunteer_hub.orgs.models import ORG_LEVEL_LABELS, ORG_LEVELS, TEAM_ROLES, TEAM_TYPES, Org, Team, TeamMember
from volunteer_hub.volunteers.idnumbers import age_on


def get_org(org_id: int) -> Org:
    org = db.session.get(Org, org_id)
    if org is None:
        raise NotFound()
    return org


def create_org(parent: Org | None, *, level: str, code: str, name_zh: str,
               name_en: str | None = None, by=None, **extra) -> Org:
    """Add a node below `parent`; its level must be exactly one below the parent's."""
    if by is not None:
        require(by, "orgs.manage", parent)
    expected = ORG_LEVELS[ORG_LEVELS.index(parent.level) + 1] if parent else "city"
    if parent is not None and parent.level == ORG_LEVELS[-1]:
        raise ValidationFailed(_l("A building cannot have children."), code="ORG_LEVEL",
                               field="level")
    if level != expected:
        raise ValidationFailed(_l("Below this node the level must be %(level)s.",
                                  level=ORG_LEVEL_LABELS[expected]), code="ORG_LEVEL",
                               field="level")
    if db.session.execute(db.select(Org.id).filter_by(code=code)).first():
        raise Conflict(_l("This code is already used."), code="ORG_CODE_TAKEN", field="code")
    org = Org(parent=parent, level=level, code=code, name_zh=name_zh, name_en=name_en,
              requires_approval=extra.pop(
                  "requires_approval", current_app.config["REQUIRE_APPROVAL_DEFAULT"]),
              **extra)
    db.session.add(org)
    db.session.flush()
    org.path = f"{parent.path if parent else '/'}{org.id}/"
    return org


def update_org(org: Org, changes: dict, *, by) -> Org:
    require(by, "orgs.manage", org)
    for field in ("name_zh", "name_en", "requires_approval", "resident_population", "lat", "lon"):
        if field in changes:
            setattr(org, field, changes[field])
    return org


def visible_orgs(user, *, level: str | None = None, within: Org | None = None):
    """A query of the orgs the user may read (any role's subtree)."""
    paths = sorted({g.org.path for g in user.grants})
    query = db.select(Org).where(path_filter(Org.path, paths))
    if level:
        query = query.where(Org.level == level)
    if within is not None:
        query = query.where(Org.path.startswith(within.path))
    return query.order_by(Org.path)


def communities_and_grids():
    """All communities with their grids, for the sign-up form's choices."""
    return db.session.execute(
        db.select(Org).where(Org.level.in_(("community", "grid"))).order_by(Org.code)
    ).scalars().all()


def community_and_grid(community_id, grid_id, *, missing) -> tuple[Org, Org | None]:
    """The community (and optionally one of its grids) a form or API call chose; 422 on the
    field otherwise. `missing` says what to choose when no community is given."""
    community = db.session.get(Org, community_id) if community_id else None
    if community is None or community.level != "community":
        raise ValidationFailed(missing, code="COMMUNITY_REQUIRED", field="community_id")
    grid = None
    if grid_id:
        grid = db.session.get(Org, grid_id)
        if grid is None or grid.level != "grid" or grid.parent_id != community.id:
            raise ValidationFailed(_l("This grid is not part of the chosen community."),
                                   code="GRID_NOT_IN_COMMUNITY", field="grid_id")
    return community, grid


def get_team(team_id: int, *, by) -> Team:
    team = db.session.get(Team, team_id)
    if team is None:
        raise NotFound()
    require(by, "teams.read", team.org, hide=True)
    return team


def teams_in_scope(user, *, org: Org | None = None, type_: str | None = None):
    query = db.select(Team).join(Team.org).where(
        path_filter(Org.path, scope_paths(user, "teams.read")))
    if org is not None:
        query = query.where(Org.path.startswith(org.path))
    if type_:
        query = query.where(Team.type == type_)
    return query.order_by(Team.name, Team.id)


def create_team(org: Org, *, name: str, type: str, custom_type: str | None = None,
                description: str | None = None, by) -> Team:
    if by is not None:
        require(by, "teams.manage", org)
    if type not in TEAM_TYPES:
        raise ValidationFailed(_l("Unknown team type."), code="TEAM_TYPE", field="type")
    if type == "custom" and not (custom_type or "").strip():
        raise ValidationFailed(_l("Name the custom team type."), code="TEAM_CUSTOM_TYPE",
                               field="custom_type")
    team = Team(org=org, name=name.strip(), type=type, custom_type=custom_type,
                description=description)
    db.session.add(team)
    db.session.flush()
    return team


def update_team(team: Team, changes: dict, *, by) -> Team:
    require(by, "teams.manage", team.org, hide=True)
    for field in ("name", "description", "custom_type"):
        if field in changes:
            setattr(team, field, changes[field])
    return team


def add_member(team: Team, volunteer, *, role: str = "member", by) -> TeamMember:
    """Put a volunteer on a team; emergency rescue teams take adults only (Art. 26)."""
    if by is not None:
        require(by, "teams.manage", team.org, hide=True)
        require(by, "volunteers.read", volunteer.community, hide=True)
    if role not in TEAM_ROLES:
        raise ValidationFailed(_l("Unknown team role."), code="TEAM_ROLE", field="role")
    if team.is_emergency and age_on(volunteer.birth_date, date.today()) < \
            current_app.config["ADULT_AGE"]:
        raise ValidationFailed(_l("Emergency rescue teams take adults only."),
                               code="TEAM_ADULTS_ONLY", field="volunteer_id")
    member = db.session.execute(
        db.select(TeamMember).filter_by(team_id=team.id, volunteer_id=volunteer.id)
    ).scalar_one_or_none()
    if member is None:
        member = TeamMember(team=team, volunteer=volunteer, role=role)
        db.session.add(member)
    member.role = role
    db.session.flush()
    return member


def remove_member(team: Team, volunteer_id: int, *, by) -> None:
    require(by, "teams.manage", team.org, hide=True)
    member = db.session.execute(
        db.select(TeamMember).filter_by(team_id=team.id, volunteer_id=volunteer_id)
    ).scalar_one_or_none()
    if member is None:
        raise NotFound()
    db.session.delete(member)


def inherited_settings(model, org: Org, configured: dict) -> dict:
    """Per-organization settings: for each name the nearest node's own value (the org, then
    its ancestors up to the root), else `configured` (the app's value). `model` is a table
    keyed by `org_id` whose columns are the names, None meaning "inherit"."""
    from sqlalchemy import select

    ids = org.ancestor_ids() or [org.id]
    rows = {row.org_id: row for row in db.session.execute(
        select(model).where(model.org_id.in_(ids))).scalars()}
    values = dict(configured)
    for org_id in ids:  # root first, so the nearest node wins
        row = rows.get(org_id)
        for name in configured:
            if row is not None and getattr(row, name) is not None:
                values[name] = getattr(row, name)
    return values
