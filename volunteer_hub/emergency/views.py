"""Emergency pages: plans (list and a per-level editor), the activate form, the activations
list and stand-down. The responses and board modules attach their pages below."""
from __future__ import annotations

from importlib import import_module
from importlib.util import find_spec

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext
from flask_login import current_user
from sqlalchemy import select
from werkzeug.routing import BuildError

from volunteer_hub.accounts.permissions import can, path_filter, scope_paths
from volunteer_hub.accounts.views import role_required
from volunteer_hub.db import db, transaction
from volunteer_hub.emergency import activation as activations
from volunteer_hub.emergency import places, plans
from volunteer_hub.emergency.models import (
    ACTIVATION_STATUSES,
    CATEGORIES,
    ESCALATION_ACTIONS,
    LEVEL_COLOURS,
    LEVELS,
)
from volunteer_hub.errors import DomainError, ValidationFailed
from volunteer_hub.geo.forms import lat_lon_wgs84, wgs84_pair
from volunteer_hub.orgs.models import EMERGENCY_TEAM_TYPES, Org, Team
from volunteer_hub.volunteers.catalogue import CERTIFICATION_KINDS, SKILL_LEVELS, SKILLS

blp = Blueprint("emergency", __name__, template_folder="templates", url_prefix="/emergency")


def board_url(activation_id: int) -> str:
    """The live board (another module's page), or the activations list until it exists."""
    try:
        return url_for("emergency.board", activation_id=activation_id)
    except BuildError:
        return url_for("emergency.activation_list")


def _orgs_where(permission: str) -> list[Org]:
    return list(db.session.execute(
        select(Org).where(path_filter(Org.path, scope_paths(current_user, permission)))
        .order_by(Org.path)).scalars())


# --- the plan editor's form <-> the plan document ---------------------------------------------
# One input per value, rows for roles, escalation steps and assembly points (a JSON text box is
# no way to edit a plan on a phone). Blank rows are ignored, so each list shows EMPTY_ROWS
# spare rows to add to; the rows are re-numbered from what was kept, so the service's error
# paths ("levels.3.roles.0.count") point at the rows shown again.
EMPTY_ROWS = 2
ROLE_FIELDS = ("code", "label_zh", "label_en", "count", "skill", "min_level", "certification")
STEP_FIELDS = ("after_minutes", "action", "value")
POINT_FIELDS = ("name", "address", "lat", "lon")


def _number(text, kind=int):
    """The number typed, None when blank; the text itself when it is not a number, so the
    plan's validation names the field."""
    text = (text or "").strip().replace("，", ".")
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        return text


def _rows(form, prefix: str, fields: tuple[str, ...]) -> list[dict]:
    rows, i = [], 0
    while any(f"{prefix}{i}-{name}" in form for name in fields):
        row = {name: (form.get(f"{prefix}{i}-{name}") or "").strip() for name in fields}
        if any(row[name] for name in fields if name not in ("min_level", "action")):
            rows.append(row)
        i += 1
    return rows


def _level_from_form(form, level: int) -> tuple[dict, dict]:
    prefix = f"L{level}-"
    roles = _rows(form, f"{prefix}role", ROLE_FIELDS)
    steps = _rows(form, f"{prefix}esc", STEP_FIELDS)
    orders = {}  # team id -> its place in the call order (blank: not called)
    for key, value in form.items():
        if key.startswith(f"{prefix}team-") and value.strip() and key.rsplit("-", 1)[1].isdecimal():
            orders[int(key.rsplit("-", 1)[1])] = _number(value)
    team_ids = sorted(orders, key=lambda team_id: (
        orders[team_id] if isinstance(orders[team_id], int) else 10**6, team_id))
    data = {
        # A coordinator need not invent codes: a blank one is numbered.
        "roles": [{**role, "code": role["code"] or f"role{i + 1}",
                   "count": _number(role["count"]),
                   "min_level": _number(role["min_level"]) or 1,
                   "skill": role["skill"] or None,
                   "certification": role["certification"] or None}
                  for i, role in enumerate(roles)],
        "team_ids": team_ids,
        "radius_km": _number(form.get(f"{prefix}radius_km"), float),
        "area_org_id": _number(form.get(f"{prefix}area_org_id")),
        "initial_teams": _number(form.get(f"{prefix}initial_teams")),
        "escalation": [{"after_minutes": _number(step["after_minutes"]),
                        "action": step["action"],
                        "value": _number(step["value"], float)} for step in steps],
    }
    rows = {"on": True, "roles": roles, "teams": {t: str(o) for t, o in orders.items()},
            "radius_km": form.get(f"{prefix}radius_km", ""),
            "area_org_id": form.get(f"{prefix}area_org_id", ""),
            "initial_teams": form.get(f"{prefix}initial_teams", ""), "escalation": steps}
    return data, rows


def form_to_plan(form) -> tuple[dict, dict]:
    """The plan document from the editor's form, and the rows to show it again."""
    levels, level_rows = {}, {}
    for level in LEVELS:
        if form.get(f"L{level}-on"):
            levels[str(level)], level_rows[level] = _level_from_form(form, level)
        else:
            level_rows[level] = _blank_level()
    points = _rows(form, "ap", POINT_FIELDS)
    templates = {locale: {kind: form.get(f"tpl-{locale}-{kind}", "")
                          for kind in plans.TEMPLATE_KINDS} for locale in plans.LOCALES}
    data = {
        "name": form.get("name", ""), "category": form.get("category", ""),
        "description": form.get("description", ""), "levels": levels,
        "assembly_points": [{**point, **lat_lon_wgs84(_number(point["lat"], float),
                                                      _number(point["lon"], float),
                                                      form.get("coord_system"))}
                            for point in points],
        "templates": templates,
    }
    rows = {**data, "levels": level_rows, "assembly_points": points}
    return data, _padded(rows)


def _blank_level() -> dict:
    return {"on": False, "roles": [], "teams": {}, "radius_km": "", "area_org_id": "",
            "initial_teams": "", "escalation": []}


def _text(value) -> str:
    return "" if value is None else str(value)


def plan_to_rows(plan) -> dict:
    """The editor's rows for a plan (or for a new one, with the default message texts)."""
    if plan is None:
        return _padded({"name": "", "category": "", "description": "",
                        "levels": {level: _blank_level() for level in LEVELS},
                        "assembly_points": [], "templates": plans.DEFAULT_TEMPLATES})
    levels = {}
    for level in LEVELS:
        config = plan.levels.get(str(level))
        if not config:
            levels[level] = _blank_level()
            continue
        levels[level] = {
            "on": True,
            "roles": [{name: _text(role.get(name)) for name in ROLE_FIELDS}
                      for role in config["roles"]],
            "teams": {team_id: str(i + 1) for i, team_id in enumerate(config["team_ids"])},
            "radius_km": _text(config.get("radius_km")),
            "area_org_id": _text(config.get("area_org_id")),
            "initial_teams": _text(config.get("initial_teams")),
            "escalation": [{name: _text(step.get(name)) for name in STEP_FIELDS}
                           for step in config.get("escalation") or []],
        }
    return _padded({"name": plan.name, "category": plan.category,
                    "description": plan.description, "levels": levels,
                    "assembly_points": [{name: _text(point.get(name)) for name in POINT_FIELDS}
                                        for point in plan.assembly_points],
                    "templates": plan.templates})


def _padded(rows: dict) -> dict:
    blank = lambda fields: {name: "" for name in fields}
    for level in rows["levels"].values():
        level["roles"] = level["roles"] + [blank(ROLE_FIELDS) for _ in range(EMPTY_ROWS)]
        level["escalation"] = level["escalation"] + [blank(STEP_FIELDS)
                                                     for _ in range(EMPTY_ROWS)]
    rows["assembly_points"] = rows["assembly_points"] + [blank(POINT_FIELDS)
                                                         for _ in range(EMPTY_ROWS)]
    return rows


# --- plans ------------------------------------------------------------------------------------

@blp.route("/plans")
@role_required
def plan_list():
    include_archived = request.args.get("archived") == "1"
    items = db.session.execute(plans.plans_query(
        current_user, include_archived=include_archived).limit(500)).scalars().all()
    return render_template(
        "emergency/plan_list.html", plans=items, include_archived=include_archived,
        CATEGORIES=CATEGORIES, LEVELS=LEVELS, LEVEL_COLOURS=LEVEL_COLOURS,
        may_create=bool(scope_paths(current_user, "emergency.plan")),
        may_plan=lambda plan: can(current_user, "emergency.plan", plan.org),
        may_activate=lambda plan: can(current_user, "emergency.activate", plan.org))


def _editor(org: Org, rows: dict, *, plan=None, errors: dict | None = None, status: int = 200):
    teams = db.session.execute(
        select(Team).join(Org, Team.org_id == Org.id)
        .where(Org.path.startswith(org.path, autoescape=True),
               Team.type.in_(EMERGENCY_TEAM_TYPES))
        .order_by(Team.name)).scalars().all()
    areas = db.session.execute(select(Org).where(Org.path.startswith(org.path, autoescape=True))
                               .order_by(Org.path)).scalars().all()
    return render_template(
        "emergency/plan_edit.html", plan=plan, org=org, rows=rows, errors=errors or {},
        teams=teams, areas=areas, orgs=_orgs_where("emergency.plan") if plan is None else [],
        CATEGORIES=CATEGORIES, LEVELS=LEVELS, LEVEL_COLOURS=LEVEL_COLOURS,
        ESCALATION_ACTIONS=ESCALATION_ACTIONS, SKILLS=SKILLS, SKILL_LEVELS=SKILL_LEVELS,
        CERTIFICATION_KINDS=CERTIFICATION_KINDS, PLACEHOLDERS=sorted(plans.PLACEHOLDERS),
        EMPTY_ROWS=EMPTY_ROWS), status


def _chosen_org() -> Org:
    orgs = _orgs_where("emergency.plan")
    if not orgs:
        abort(403)
    wanted = request.values.get("org_id", type=int)
    return next((org for org in orgs if org.id == wanted), orgs[0])


@blp.route("/plans/new", methods=["GET", "POST"])
@role_required
def plan_new():
    org = _chosen_org()
    if request.method == "GET":
        return _editor(org, plan_to_rows(None))
    data, rows = form_to_plan(request.form)
    try:
        with transaction():
            plan = plans.create_plan(org, data, by=current_user)
    except ValidationFailed as error:
        return _editor(org, rows, errors=error.errors or {}, status=422)
    flash(gettext("Plan saved."), "success")
    return redirect(url_for("emergency.plan_list", _anchor=f"plan-{plan.id}"))


@blp.route("/plans/<int:plan_id>/edit", methods=["GET", "POST"])
@role_required
def plan_edit(plan_id: int):
    plan = plans.get_plan(plan_id, by=current_user)
    if not can(current_user, "emergency.plan", plan.org):
        abort(403)
    if request.method == "GET":
        return _editor(plan.org, plan_to_rows(plan), plan=plan)
    data, rows = form_to_plan(request.form)
    try:
        with transaction():
            plans.update_plan(plan, data, by=current_user)
    except ValidationFailed as error:
        return _editor(plan.org, rows, plan=plan, errors=error.errors or {}, status=422)
    flash(gettext("Plan saved."), "success")
    return redirect(url_for("emergency.plan_list", _anchor=f"plan-{plan.id}"))


@blp.route("/plans/<int:plan_id>/archive", methods=["POST"])
@role_required
def plan_archive(plan_id: int):
    with transaction():
        plans.archive_plan(plans.get_plan(plan_id, by=current_user), by=current_user)
    flash(gettext("Plan archived."), "success")
    return redirect(url_for("emergency.plan_list"))


# --- activate ---------------------------------------------------------------------------------

def _float(name: str) -> float | None:
    value = (request.form.get(name) or "").strip().replace("，", ".")
    try:
        return float(value) if value else None
    except ValueError:
        raise ValidationFailed(gettext("Give a number."), field=name) from None


@blp.route("/plans/<int:plan_id>/activate", methods=["GET", "POST"])
@role_required
def activation_form(plan_id: int):
    plan = plans.get_plan(plan_id, by=current_user)
    if not can(current_user, "emergency.activate", plan.org):
        abort(403)
    levels = sorted(int(level) for level in plan.levels)
    values, errors = dict(request.form), {}
    if request.method == "POST":
        try:
            if request.form.get("kind") not in ("drill", "real"):
                raise ValidationFailed(gettext("Say whether this is a drill or a real "
                                               "incident."), field="kind")
            lat, lon, address = _incident_place(plan)
            with transaction():
                activation = activations.activate(
                    plan, level=request.form.get("level", type=int),
                    is_drill=request.form["kind"] == "drill", lat=lat, lon=lon,
                    address=address, note=request.form.get("note", ""), by=current_user)
            flash(gettext("Activated: %(num)d people called.",
                          num=activations.responder_counts(activation)["notified"]), "success")
            return redirect(board_url(activation.id))
        except DomainError as error:
            errors = error.errors or {"": [error.message]}
    config = plan.levels[str(levels[0])]
    return render_template("emergency/activation_form.html", plan=plan, levels=levels,
                           values=values, errors=errors, LEVELS=LEVELS,
                           LEVEL_COLOURS=LEVEL_COLOURS,
                           default_place=places.default_place(plan, config),
                           default_position=places.default_position(plan, config),
                           places=places.pickable_places(plan)), 422 if errors else 200


def _incident_place(plan) -> tuple[float | None, float | None, str]:
    """Typed or located coordinates first, else the community or grid picked (its name is the
    address when none was typed); with neither, the service takes the plan's area."""
    lat, lon = wgs84_pair(_float("lat"), _float("lon"), request.form.get("coord_system"))
    address = (request.form.get("address") or "").strip()
    picked = places.picked_place(plan, request.form.get("place_id", type=int))
    if lat is None and lon is None and picked is not None:
        lat, lon = places.org_position(picked)
        address = address or picked.name(str(get_locale()))
    return lat, lon, address


# --- activations ------------------------------------------------------------------------------

@blp.route("/activations")
@role_required
def activation_list():
    status = request.args.get("status") or None
    if status not in (None, *ACTIVATION_STATUSES):
        status = None
    include_drills = request.args.get("drills", "1") != "0"
    items = db.session.execute(activations.activations_query(
        current_user, status=status, include_drills=include_drills).limit(200)).scalars().all()
    return render_template(
        "emergency/activation_list.html", activations=items, status=status,
        include_drills=include_drills, ACTIVATION_STATUSES=ACTIVATION_STATUSES, LEVELS=LEVELS,
        LEVEL_COLOURS=LEVEL_COLOURS, board_url=board_url,
        may_stand_down=lambda a: a.status == "active" and can(current_user,
                                                              "emergency.activate", a.org))


@blp.route("/activations/<int:activation_id>/stand-down", methods=["GET", "POST"])
@role_required
def stand_down(activation_id: int):
    activation = activations.get_activation(activation_id, by=current_user)
    if not can(current_user, "emergency.activate", activation.org):
        abort(403)
    if request.method == "POST":
        with transaction():
            activations.stand_down(activation, note=request.form.get("note", ""),
                                   by=current_user)
        flash(gettext("Stood down: everyone called has been told."), "success")
        return redirect(board_url(activation.id))
    return render_template("emergency/activation_stand_down.html", activation=activation,
                           counts=activations.responder_counts(activation), LEVELS=LEVELS)


def _attach_other_pages() -> None:
    """The responses and board modules add their pages to this same blueprint."""
    for name in ("views_responses", "views_board"):
        module = f"volunteer_hub.emergency.{name}"
        if find_spec(module) is not None:
            import_module(module)


_attach_other_pages()
