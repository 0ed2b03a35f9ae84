"""Why was this person not proposed? The organizer names a volunteer (volunteer code,
phone or name, never a database id) and a slot; the answer is every feasibility rule the
pair breaks, in words, or, when the volunteer could take the slot, how their cost compares
with the proposed volunteer's. The rules and their words come from rules.RULES."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app

from flask_babel import format_date, format_datetime
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from volunteer_hub.accounts.permissions import can, path_filter, require, scope_paths
from volunteer_hub.db import db
from volunteer_hub.errors import NotFound, ValidationFailed
from volunteer_hub import matching as engine
from volunteer_hub.matching import domain, rules, services
from volunteer_hub.matching.models import ACTIVE_STATES, Assignment
from volunteer_hub.needs import services as needs
from volunteer_hub.needs.models import Need, NeedSlot
from volunteer_hub.volunteers.catalogue import CERTIFICATION_KINDS, SKILLS
from volunteer_hub.volunteers.models import Volunteer

MAX_MATCHES_SHOWN = 5


def find_person(query: str, *, by, field: str = "person") -> Volunteer:
    """The one volunteer the user may read whose code, phone or name is `query`."""
    text = (query or "").strip()
    if not text:
        raise ValidationFailed(_l("Enter a name, volunteer code or phone number."), field=field)
    found = db.session.execute(
        select(Volunteer).where(
            or_(func.upper(Volunteer.volunteer_number) == text.upper(), Volunteer.phone == text,
                Volunteer.real_name == text),
            path_filter(Volunteer.org_path, scope_paths(by, "volunteers.read")) if by is not None
            else Volunteer.id.isnot(None))
        .order_by(Volunteer.id).limit(MAX_MATCHES_SHOWN + 1)).unique().scalars().all()
    if not found:
        raise ValidationFailed(_l("No volunteer you can see has this name, code or phone."),
                               code="VOLUNTEER_UNKNOWN", field=field)
    if len(found) > 1:
        raise ValidationFailed(
            _l("Several volunteers are called that: enter the volunteer code (%(codes)s).",
               codes=", ".join(v.volunteer_number for v in found[:MAX_MATCHES_SHOWN])),
            code="VOLUNTEER_AMBIGUOUS", field=field)
    return found[0]


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _shown(name: str, value: object) -> object:
    if name == "skill":
        return str(SKILLS.get(value, value))
    if name == "certification":
        return str(CERTIFICATION_KINDS.get(value, value))
    if name == "weekday" and isinstance(value, date):
        return format_date(value, "EEEE")
    if name in ("start", "end") and isinstance(value, int):
        return _hhmm(value)
    if isinstance(value, datetime):
        # Slot times are the station's naive wall clock (flask-babel would take them for UTC).
        zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
        return format_datetime(value.replace(tzinfo=zone), "short")
    if isinstance(value, date):
        return format_date(value, "medium")
    return value


def in_words(rule: rules.Rule, slot: engine.Slot, volunteer: engine.Volunteer) -> str:
    template, params = rule.why(slot, volunteer) if rule.why else (rule.refusal, {})
    return str(_l(template, **{name: _shown(name, value) for name, value in params.items()}))


def _terms(slot: engine.Slot, volunteer: engine.Volunteer) -> dict:
    """The cost terms an organizer can weigh: travel, recent load, continuity, preferences."""
    _, km = domain.relation_and_distance(slot, volunteer)
    return {
        "distance_km": round(km, 2),
        "recent_load": volunteer.recent_load,
        "continuity": slot.beneficiary_id is not None and slot.beneficiary_id in volunteer.served_beneficiaries,
        "preference_misses": list(domain.preference_misses(slot, volunteer)),
    }


def why_not(slot_id: int, query: str, *, by) -> dict:
    """Rules broken (in words), or the cost comparison with the proposed volunteer."""
    slot_row = db.session.get(NeedSlot, slot_id)
    if slot_row is None or (by is not None and not can(by, "needs.read", slot_row.need.org)):
        raise NotFound()
    if by is not None:
        require(by, "needs.read", slot_row.need.org)
    person = find_person(query, by=by)
    slot = services.engine_slot(slot_row)
    candidate = services.engine_volunteers([person], except_slot_ids=[slot_id])[0]
    broken = rules.failed_rules(slot, candidate)
    answer: dict = {
        "slot_id": slot_id, "volunteer": {"code": person.volunteer_number, "name": person.real_name},
        "feasible": not broken, "in_pool": person.status == "active"
        and person.org_path.startswith(slot_row.need.org.path),
        "reasons": [{"code": rule.reason, "text": in_words(rule, slot, candidate)} for rule in broken],
        "comparison": None,
    }
    if not answer["in_pool"] and person.status == "active":
        answer["reasons"].append({"code": "outside_area", "text": str(_l(
            "Lives outside %(org)s: its matching proposes only volunteers of its own area.",
            org=slot_row.need.org.name_zh))})
    if not broken:
        answer["comparison"] = _comparison(slot_row, slot, candidate)
    return answer


def _comparison(slot_row: NeedSlot, slot: engine.Slot, candidate: engine.Volunteer) -> dict:
    weights = services.weights_for(slot_row.need.org)
    mine = {"cost": engine.pair_cost(slot, candidate, weights)} | _terms(slot, candidate)
    chosen_row = db.session.execute(
        select(Assignment).where(Assignment.slot_id == slot_row.id,
                                 Assignment.state.in_(ACTIVE_STATES))).scalar_one_or_none()
    if chosen_row is None:
        return {"this": mine, "chosen": None, "text": str(_l(
            "Could take this place, and nobody holds it yet: run matching or sign them up."))}
    chosen = services.engine_volunteers([chosen_row.volunteer], except_slot_ids=[slot_row.id])[0]
    theirs = {"cost": engine.pair_cost(slot, chosen, weights), "code": chosen_row.volunteer.volunteer_number,
              "name": chosen_row.volunteer.real_name} | _terms(slot, chosen)
    text = _l("Could take this place, but costs %(this)d points against %(chosen)d for %(name)s: "
              "%(this_km).1f km against %(chosen_km).1f km, %(this_load)d recent tasks against "
              "%(chosen_load)d, served this person before: %(this_cont)s against %(chosen_cont)s.",
              this=mine["cost"], chosen=theirs["cost"], name=theirs["name"],
              this_km=mine["distance_km"], chosen_km=theirs["distance_km"],
              this_load=mine["recent_load"], chosen_load=theirs["recent_load"],
              this_cont=_yes_no(mine["continuity"]), chosen_cont=_yes_no(theirs["continuity"]))
    if mine["cost"] < theirs["cost"]:
        text = _l("Could take this place at a lower cost (%(this)d against %(chosen)d points for "
                  "%(name)s): the proposal predates a change, or their time was given to another "
                  "place in the same run. Run matching again or replace the proposal.",
                  this=mine["cost"], chosen=theirs["cost"], name=theirs["name"])
    return {"this": mine, "chosen": theirs, "text": str(text)}


def _yes_no(value: bool) -> str:
    return str(_l("yes") if value else _l("no"))


def default_window(user, *, today: date) -> tuple[date, date]:
    """From today to the last open need in the user's scope (at least a week, at most
    services.MAX_RUN_DAYS days): the window an organizer most likely wants to match."""
    last = db.session.execute(
        select(func.max(NeedSlot.start)).join(Need, NeedSlot.need_id == Need.id)
        .where(NeedSlot.status == "open", NeedSlot.start >= datetime.combine(today, time.min),
               Need.state.in_(needs.MATCHABLE_STATES),
               path_filter(Need.org_path, scope_paths(user, "needs.manage")))).scalar()
    last_day = last.date() if isinstance(last, datetime) else today
    end = min(max(last_day, today + timedelta(days=6)), today + timedelta(days=services.MAX_RUN_DAYS - 1))
    return today, end
