"""Emergency plans: validated, whole-document configuration of an organization's call-outs.

A plan is read and written whole, so validation checks the whole document and reports each
problem with a dotted field path ("levels.3.roles.0.count") that forms and API clients can
show next to the input.
"""
from __future__ import annotations

import re
from string import Formatter

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from volunteer_hub.accounts.permissions import path_filter, require, scope_paths
from volunteer_hub.db import db, utcnow
from volunteer_hub.emergency.models import CATEGORIES, ESCALATION_ACTIONS, EmergencyPlan
from volunteer_hub.errors import Conflict, NotFound, ValidationFailed
from volunteer_hub.orgs.models import Org, Team
from volunteer_hub.volunteers.catalogue import CERTIFICATION_KINDS, SKILLS

LOCALES = ("zh_Hans", "en")
TEMPLATE_KINDS = ("alert", "assigned", "stand_down")
# What a message template may use; the values are filled in when the message is written.
PLACEHOLDERS = frozenset({"plan", "level", "address", "note", "link", "org", "role",
                          "assembly_point", "assembly_address"})
DEFAULT_TEMPLATES = {
    "zh_Hans": {
        "alert": "{org}启动{plan}（{level}）。地点：{address}。{note} 请立即回复：{link}",
        "assigned": "您的任务：{role}。请到集合点：{assembly_point}（{assembly_address}）。",
        "stand_down": "{plan}已解除。感谢您的响应，请注意安全。",
    },
    "en": {
        "alert": "{org} has activated {plan} ({level}). Place: {address}. {note} "
                 "Answer now: {link}",
        "assigned": "Your role: {role}. Go to the assembly point: {assembly_point} "
                    "({assembly_address}).",
        "stand_down": "{plan} is stood down. Thank you for answering; stay safe.",
    },
}
ROLE_CODE = re.compile(r"^[a-z0-9_-]{1,40}$")
MAX_RADIUS_KM = 500.0
MAX_ROLE_COUNT = 1000
MAX_AFTER_MINUTES = 24 * 60
MAX_LIST_ITEMS = 50  # roles, teams, escalation steps, assembly points: far above a real plan


class _Errors:
    """Collects every problem of a document, then raises one ValidationFailed."""

    def __init__(self) -> None:
        self.errors: dict[str, list] = {}

    def add(self, field: str, message) -> None:
        self.errors.setdefault(field, []).append(message)

    def raise_any(self) -> None:
        if self.errors:
            first = next(iter(self.errors.values()))[0]
            raise ValidationFailed(first, code="PLAN_INVALID", errors=self.errors)


def _text(errors: _Errors, field: str, value, *, max_length: int, required: bool = True) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors.add(field, _l("Give a text."))
        return ""
    value = value.strip()
    if required and not value:
        errors.add(field, _l("This is required."))
    elif len(value) > max_length:
        errors.add(field, _l("At most %(num)d characters.", num=max_length))
    return value


def _int(errors: _Errors, field: str, value, low: int, high: int, default=None) -> int | None:
    if value is None or value == "":
        if default is None:
            errors.add(field, _l("This is required."))
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        errors.add(field, _l("Give a whole number from %(low)d to %(high)d.", low=low, high=high))
        return default
    return value


def _number(errors: _Errors, field: str, value, low: float, high: float) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        errors.add(field, _l("Give a number from %(low)s to %(high)s.", low=low, high=high))
        return None
    return float(value)


def _is_list(errors: _Errors, field: str, value) -> bool:
    if not isinstance(value, list):
        errors.add(field, _l("Give a list."))
        return False
    if len(value) > MAX_LIST_ITEMS:
        errors.add(field, _l("At most %(count)d items.", count=MAX_LIST_ITEMS))
        return False
    return True


def _is_dict(errors: _Errors, field: str, value) -> bool:
    if not isinstance(value, dict):
        errors.add(field, _l("Give an object."))
        return False
    return True


# --- roles, teams, area, escalation ------------------------------------------------------------

def _role(errors: _Errors, field: str, role) -> dict:
    if not _is_dict(errors, field, role):
        return {}
    code = role.get("code")
    if not isinstance(code, str) or not ROLE_CODE.match(code):
        errors.add(f"{field}.code", _l("A role code is 1 to 40 lower-case letters, digits, "
                                       "'-' or '_'."))
    label_zh = _text(errors, f"{field}.label_zh", role.get("label_zh"), max_length=100)
    label_en = _text(errors, f"{field}.label_en", role.get("label_en"), max_length=100,
                     required=False) or label_zh
    skill = role.get("skill") or None
    if skill is not None and skill not in SKILLS:
        errors.add(f"{field}.skill", _l("Unknown skill."))
    certification = role.get("certification") or None
    if certification is not None and certification not in CERTIFICATION_KINDS:
        errors.add(f"{field}.certification", _l("Unknown certification."))
    return {
        "code": code, "label_zh": label_zh, "label_en": label_en,
        "count": _int(errors, f"{field}.count", role.get("count"), 1, MAX_ROLE_COUNT),
        "skill": skill,
        "min_level": _int(errors, f"{field}.min_level", role.get("min_level"), 1, 3, default=1),
        "certification": certification,
    }


def _roles(errors: _Errors, field: str, roles) -> list[dict]:
    if not _is_list(errors, field, roles):
        return []
    if not roles:
        errors.add(field, _l("Name at least one role to fill."))
    cleaned = [_role(errors, f"{field}.{i}", role) for i, role in enumerate(roles)]
    codes = [role.get("code") for role in cleaned]
    for i, code in enumerate(codes):
        if code and codes.index(code) != i:
            errors.add(f"{field}.{i}.code", _l("Each role code can be used once per level."))
    return cleaned


def _teams(errors: _Errors, field: str, team_ids, org: Org) -> list[int]:
    if not _is_list(errors, field, team_ids):
        return []
    if not team_ids:
        errors.add(field, _l("Name at least one team to call."))
    if any(isinstance(i, bool) or not isinstance(i, int) for i in team_ids):
        errors.add(field, _l("Give team numbers."))
        return []
    if len(set(team_ids)) != len(team_ids):
        errors.add(field, _l("Each team can be listed once."))
    teams = {team.id: team for team in db.session.execute(
        select(Team).where(Team.id.in_(team_ids))).scalars()}
    for i, team_id in enumerate(team_ids):
        team = teams.get(team_id)
        if team is None or not org.contains(team.org):
            errors.add(f"{field}.{i}", _l("This team is not in the plan's organization."))
        elif not team.is_emergency:
            errors.add(f"{field}.{i}", _l("Only emergency rescue teams can be called."))
    return list(team_ids)


def _area(errors: _Errors, field: str, area_org_id, org: Org) -> int | None:
    if area_org_id in (None, ""):
        return None
    area = db.session.get(Org, area_org_id) if isinstance(area_org_id, int) else None
    if area is None or not org.contains(area):
        errors.add(field, _l("The area must be the plan's organization or lie inside it."))
        return None
    return area.id


def _escalation(errors: _Errors, field: str, steps, radius_km: float | None) -> list[dict]:
    if steps is None:
        return []
    if not _is_list(errors, field, steps):
        return []
    cleaned = []
    for i, step in enumerate(steps):
        where = f"{field}.{i}"
        if not _is_dict(errors, where, step):
            continue
        action = step.get("action")
        if action not in ESCALATION_ACTIONS:
            errors.add(f"{where}.action", _l("Unknown escalation action."))
        after = _int(errors, f"{where}.after_minutes", step.get("after_minutes"), 1,
                     MAX_AFTER_MINUTES)
        value = None
        if action == "widen_radius":
            value = _number(errors, f"{where}.value", step.get("value"), 0.1, MAX_RADIUS_KM)
            if value is None:
                errors.add(f"{where}.value", _l("Give the new radius in kilometres."))
            elif radius_km is None:
                errors.add(f"{where}.value",
                           _l("Widening needs a radius around the incident in the level."))
        cleaned.append({"after_minutes": after, "action": action, "value": value})
    afters = [step["after_minutes"] or 0 for step in cleaned]
    if afters != sorted(afters):
        errors.add(field, _l("List the escalation steps in time order."))
    return cleaned


def _level(errors: _Errors, key: str, level, org: Org) -> dict:
    field = f"levels.{key}"
    if not _is_dict(errors, field, level):
        return {}
    roles = _roles(errors, f"{field}.roles", level.get("roles"))
    team_ids = _teams(errors, f"{field}.team_ids", level.get("team_ids"), org)
    radius_km = _number(errors, f"{field}.radius_km", level.get("radius_km"), 0.1, MAX_RADIUS_KM)
    initial = _int(errors, f"{field}.initial_teams", level.get("initial_teams"), 1,
                   max(1, len(team_ids)), default=max(1, len(team_ids)))
    return {
        "roles": roles, "team_ids": team_ids, "radius_km": radius_km,
        "area_org_id": _area(errors, f"{field}.area_org_id", level.get("area_org_id"), org),
        "initial_teams": initial,
        "escalation": _escalation(errors, f"{field}.escalation", level.get("escalation"),
                                  radius_km),
    }


def _levels(errors: _Errors, levels, org: Org) -> dict:
    if not _is_dict(errors, "levels", levels):
        return {}
    if not levels:
        errors.add("levels", _l("Configure at least one level."))
    cleaned = {}
    for key, level in levels.items():
        if str(key) not in ("1", "2", "3", "4"):
            errors.add("levels", _l("Levels are 1 (I, red) to 4 (IV, blue)."))
            continue
        cleaned[str(key)] = _level(errors, str(key), level, org)
    return dict(sorted(cleaned.items()))


# --- assembly points and templates ------------------------------------------------------------

def _assembly_points(errors: _Errors, points) -> list[dict]:
    if not _is_list(errors, "assembly_points", points):
        return []
    if not points:
        errors.add("assembly_points", _l("Name at least one assembly point."))
    cleaned = []
    for i, point in enumerate(points):
        field = f"assembly_points.{i}"
        if not _is_dict(errors, field, point):
            continue
        lat = _number(errors, f"{field}.lat", point.get("lat"), -90, 90)
        lon = _number(errors, f"{field}.lon", point.get("lon"), -180, 180)
        if lat is None or lon is None:
            # Responders are sent to the nearest point: it needs a position.
            errors.add(f"{field}.lat", _l("Give the latitude and longitude."))
        cleaned.append({
            "name": _text(errors, f"{field}.name", point.get("name"), max_length=100),
            "address": _text(errors, f"{field}.address", point.get("address"), max_length=200,
                             required=False),
            "lat": lat, "lon": lon,
        })
    return cleaned


def template_placeholders(text: str) -> set[str]:
    """The {names} a template uses; ValueError when its braces are malformed."""
    names = set()
    for _literal, name, spec, conversion in Formatter().parse(text):
        if name is not None:
            if spec or conversion or not name.isidentifier():
                raise ValueError(name)
            names.add(name)
    return names


def _templates(errors: _Errors, templates) -> dict:
    if not _is_dict(errors, "templates", templates):
        return {}
    cleaned = {}
    for locale in LOCALES:
        texts = templates.get(locale)
        field = f"templates.{locale}"
        if not isinstance(texts, dict):
            errors.add(field, _l("Give the messages in Chinese and in English."))
            continue
        cleaned[locale] = {}
        for kind in TEMPLATE_KINDS:
            text = _text(errors, f"{field}.{kind}", texts.get(kind), max_length=1000)
            try:
                unknown = template_placeholders(text) - PLACEHOLDERS
            except ValueError:
                errors.add(f"{field}.{kind}", _l("Braces must enclose a placeholder name, "
                                                 "like {plan}."))
                unknown = set()
            if unknown:
                errors.add(f"{field}.{kind}", _l(
                    "Unknown placeholder: %(names)s. Use: %(known)s.",
                    names=", ".join(sorted(unknown)),
                    known=", ".join(sorted(PLACEHOLDERS))))
            cleaned[locale][kind] = text
    for locale in templates:
        if locale not in LOCALES:
            errors.add("templates", _l("Messages are written in zh_Hans and en."))
    return cleaned


def validate_plan(data: dict, org: Org) -> dict:
    """The cleaned plan document, or ValidationFailed listing every problem by field."""
    errors = _Errors()
    category = data.get("category")
    if category not in CATEGORIES:
        errors.add("category", _l("Unknown category."))
    cleaned = {
        "name": _text(errors, "name", data.get("name"), max_length=120),
        "category": category,
        "description": _text(errors, "description", data.get("description"), max_length=5000,
                             required=False),
        "levels": _levels(errors, data.get("levels"), org),
        "assembly_points": _assembly_points(errors, data.get("assembly_points")),
        "templates": _templates(errors, data.get("templates", DEFAULT_TEMPLATES)),
    }
    errors.raise_any()
    return cleaned


# --- services ---------------------------------------------------------------------------------

def create_plan(org: Org, data: dict, *, by) -> EmergencyPlan:
    if by is not None:
        require(by, "emergency.plan", org)
    cleaned = validate_plan(data, org)
    plan = EmergencyPlan(org=org, org_path=org.path, created_by_id=by.id if by else None,
                         **cleaned)
    db.session.add(plan)
    db.session.flush()
    return plan


def update_plan(plan: EmergencyPlan, data: dict, *, by) -> EmergencyPlan:
    """Change some parts of the plan; the result is validated whole. Past activations keep
    their own copies and are not affected."""
    if by is not None:
        require(by, "emergency.plan", plan.org, hide=not _can_read(by, plan))
    if plan.archived_at is not None:
        raise Conflict(_l("This plan is archived."), code="PLAN_ARCHIVED")
    current = {name: getattr(plan, name) for name in
               ("name", "category", "description", "levels", "assembly_points", "templates")}
    current.update({key: value for key, value in data.items() if key in current})
    cleaned = validate_plan(current, plan.org)
    for name, value in cleaned.items():
        setattr(plan, name, value)
    plan.updated_at = utcnow()
    db.session.flush()
    return plan


def archive_plan(plan: EmergencyPlan, *, by) -> EmergencyPlan:
    if by is not None:
        require(by, "emergency.plan", plan.org, hide=not _can_read(by, plan))
    if plan.archived_at is None:
        plan.archived_at = utcnow()
    db.session.flush()
    return plan


def _can_read(user, plan: EmergencyPlan) -> bool:
    return any(plan.org_path.startswith(path) for path in scope_paths(user, "emergency.read"))


def get_plan(plan_id: int, *, by) -> EmergencyPlan:
    """A plan the caller may read; 404 when unknown or outside their scope."""
    plan = db.session.get(EmergencyPlan, plan_id)
    if plan is None or (by is not None and not _can_read(by, plan)):
        raise NotFound()
    return plan


def plans_query(user, *, org_id: int | None = None, include_archived: bool = False):
    """Plans in the caller's scope (of one org's subtree when given), by name."""
    query = select(EmergencyPlan).where(
        path_filter(EmergencyPlan.org_path, scope_paths(user, "emergency.read")))
    if org_id is not None:
        org = db.session.get(Org, org_id)
        if org is None:
            raise NotFound()
        query = query.where(EmergencyPlan.org_path.startswith(org.path, autoescape=True))
    if not include_archived:
        query = query.where(EmergencyPlan.archived_at.is_(None))
    return query.order_by(EmergencyPlan.name, EmergencyPlan.id)
