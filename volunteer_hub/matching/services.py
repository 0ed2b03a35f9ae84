"""Around the pure engine: runs, proposals, confirmation, answers, re-matching, sign-ups.

The engine (domain/candidates/solver) knows nothing of the database; this module loads
open slots and active volunteers into its dataclasses, calls solve() / rematch_slots()
and persists what comes back, with the explanation of every pairing.
"""
from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import format_datetime
from flask_babel import lazy_gettext as _l
import numpy as np
from sqlalchemy import case, exists, insert, select, update
from sqlalchemy.exc import IntegrityError

from volunteer_hub.accounts.permissions import can, path_filter, require, scope_paths
from volunteer_hub.db import db, is_postgresql, utcnow
from volunteer_hub.errors import Conflict, DomainError, NotFound, ValidationFailed
from volunteer_hub import matching as engine  # the pure engine's public API
from volunteer_hub.matching.models import (
    ASSIGNMENT_STATE_LABELS,
    ACTIVE_STATES, COMMITTED_STATES, Assignment, MatchingPreference, MatchingRun,
)
from volunteer_hub.matching import cache, candidates, loading, rules, solver
from volunteer_hub.matching import series as series_module
from volunteer_hub.matching.candidates import SlotTable
from volunteer_hub.matching.domain import DAY_PARTS, PREFERENCE_KINDS
from volunteer_hub.matching import distance_bands
from volunteer_hub.needs.catalogue import BENEFICIARY_CATEGORIES, NEED_TYPES
from volunteer_hub.needs import services as needs
from volunteer_hub.needs.models import Need, NeedSlot
from volunteer_hub.orgs.models import Org
from volunteer_hub.volunteers import idnumbers
from volunteer_hub.volunteers.models import Volunteer

MAX_RUN_DAYS = 31
MAX_ROUNDS = 4  # the engine gives a volunteer one slot per solve: later rounds add more
RECENT_LOAD_DAYS = 28
OPEN_NEEDS_HORIZON_DAYS = 60
HIERARCHY_KM = {"same_grid": 0.5, "same_community": 1.5, "same_street": 3.0}

# --- from rows to the engine's dataclasses -----------------------------------------------

def _street_id(community: Org | None) -> int | None:
    if community is None or community.parent is None:
        return None
    return community.parent_id if community.parent.level == "street" else None


def engine_slot(slot: NeedSlot) -> engine.Slot:
    need = slot.need
    same_gender = need.beneficiary.gender if need.same_gender and need.beneficiary else None
    return engine.Slot(
        id=slot.id, need_id=need.id, need_type=need.type, priority=need.priority,
        start=slot.start, end=slot.end, lat=need.lat, lon=need.lon,
        grid_id=need.grid_id, community_id=need.community_id,
        street_id=_street_id(need.community), max_distance_km=need.max_distance_km,
        required_skills=dict(need.required_skills or {}),
        required_certifications=frozenset(need.required_certifications or ()),
        same_gender=same_gender, adults_only=need.adults_only,
        needs_background_check=need.background_check, beneficiary_id=need.beneficiary_id,
        beneficiary_category=need.beneficiary.category if need.beneficiary else None,
    )


def _busy(volunteer_ids, *, except_slot_ids=()) -> dict[int, list[tuple[datetime, datetime]]]:
    rows = db.session.execute(
        select(Assignment.volunteer_id, NeedSlot.start, NeedSlot.end)
        .join(NeedSlot, Assignment.slot_id == NeedSlot.id)
        .where(Assignment.volunteer_id.in_(volunteer_ids),
               Assignment.state.in_(ACTIVE_STATES),
               NeedSlot.status.in_(("open", "filled")),
               NeedSlot.id.not_in(list(except_slot_ids) or [-1]))).all()
    busy = defaultdict(list)
    for volunteer_id, start, end in rows:
        busy[volunteer_id].append((start, end))
    return busy


def _recent_load(volunteer_ids) -> dict[int, int]:
    since = needs.local_now() - timedelta(days=RECENT_LOAD_DAYS)
    rows = db.session.execute(
        select(Assignment.volunteer_id, db.func.count(Assignment.id))
        .join(NeedSlot, Assignment.slot_id == NeedSlot.id)
        .where(Assignment.volunteer_id.in_(volunteer_ids),
               Assignment.state.in_(COMMITTED_STATES), NeedSlot.start >= since)
        .group_by(Assignment.volunteer_id)).all()
    return dict(rows)


def _served(volunteer_ids) -> dict[int, set[int]]:
    rows = db.session.execute(
        select(Assignment.volunteer_id, Need.beneficiary_id)
        .join(NeedSlot, Assignment.slot_id == NeedSlot.id)
        .join(Need, NeedSlot.need_id == Need.id)
        .where(Assignment.volunteer_id.in_(volunteer_ids), Assignment.state == "accepted",
               Need.beneficiary_id.isnot(None))).all()
    served = defaultdict(set)
    for volunteer_id, beneficiary_id in rows:
        served[volunteer_id].add(beneficiary_id)
    return served


def engine_volunteers(volunteers: list[Volunteer], *, except_slot_ids=(),
                      today: date | None = None) -> list[engine.Volunteer]:
    """Skills at their effective level, certifications by expiry, availability, busy
    intervals (active assignments), recent load (4 weeks) and people served before."""
    today = today or needs.local_today()
    ids = [v.id for v in volunteers]
    if not ids:
        return []
    busy, load, served = _busy(ids, except_slot_ids=except_slot_ids), _recent_load(ids), \
        _served(ids)
    preferences = _preferences(ids)
    result = []
    for v in volunteers:
        certs: dict[str, date | None] = {}
        for cert in v.certifications:
            if cert.issued_on > today:
                continue
            if cert.kind not in certs:
                certs[cert.kind] = cert.expires_on
            elif certs[cert.kind] is None or cert.expires_on is None:
                certs[cert.kind] = None  # one never-expiring certificate is enough
            else:
                certs[cert.kind] = max(certs[cert.kind], cert.expires_on)
        background = "background_check" in certs and (
            certs["background_check"] is None or certs["background_check"] >= today)
        result.append(engine.Volunteer(
            id=v.id, lat=v.lat, lon=v.lon, grid_id=v.grid_id, community_id=v.community_id,
            street_id=_street_id(v.community), gender=v.gender,
            age=idnumbers.age_on(v.birth_date, today), active=v.status == "active",
            skills={s.skill_code: s.effective_level for s in v.skills},
            certifications=certs, background_checked=background,
            availability=tuple(engine.WeeklyWindow(w.weekday, w.start_minute, w.end_minute)
                               for w in v.availability),
            unavailable_dates=frozenset(e.day for e in v.exceptions if not e.available),
            busy=tuple(busy.get(v.id, ())), recent_load=load.get(v.id, 0),
            served_beneficiaries=frozenset(served.get(v.id, ())),
            **preferences.get(v.id, {}),
        ))
    return result


# --- the volunteer's own preferences --------------------------------------------------------

MAX_PREFERRED_KM = 100.0


def _preferences(volunteer_ids) -> dict[int, dict]:
    rows = db.session.execute(select(MatchingPreference).where(
        MatchingPreference.volunteer_id.in_(volunteer_ids))).scalars()
    return {p.volunteer_id: dict(
        preferred_need_types=frozenset(p.need_types or ()), max_travel_km=p.max_travel_km,
        preferred_weekdays=frozenset(p.weekdays or ()),
        preferred_day_parts=frozenset(p.day_parts or ()),
        preferred_categories=frozenset(p.categories or ())) for p in rows}


def get_preferences(volunteer: Volunteer) -> MatchingPreference:
    """The volunteer's preferences (an unsaved empty one if never set)."""
    found = db.session.execute(select(MatchingPreference).where(
        MatchingPreference.volunteer_id == volunteer.id)).scalar_one_or_none()
    return found or MatchingPreference(volunteer_id=volunteer.id, need_types=[], weekdays=[],
                                       day_parts=[], categories=[], max_travel_km=None)


def _choices(values, allowed, field: str) -> list:
    values = list(dict.fromkeys(values or ()))
    if any(v not in allowed for v in values):
        raise ValidationFailed(_l("Unknown choice."), field=field)
    return sorted(values, key=list(allowed).index)


def update_preferences(volunteer: Volunteer, data: dict, *, by) -> MatchingPreference:
    """Replace the fields given in data. Only the volunteer edits their own preferences."""
    if by is None or volunteer.user_id != by.id:
        raise NotFound()
    pref = get_preferences(volunteer)
    checks = {"need_types": NEED_TYPES, "weekdays": range(7), "day_parts": DAY_PARTS,
              "categories": BENEFICIARY_CATEGORIES}
    for field, allowed in checks.items():
        if field in data:
            setattr(pref, field, _choices(data[field], allowed, field))
    if "max_travel_km" in data:
        km = data["max_travel_km"]
        if km is not None and not 0.1 <= km <= MAX_PREFERRED_KM:
            raise ValidationFailed(_l("Enter a distance from 0.1 to %(max)d km.",
                                      max=MAX_PREFERRED_KM), field="max_travel_km")
        pref.max_travel_km = km
    pref.updated_at = utcnow()
    db.session.add(pref)
    db.session.flush()
    return pref


def weights_for(org: Org) -> engine.Weights:
    """Cost weights: MATCHING_WEIGHTS[org code], else MATCHING_WEIGHTS["default"]."""
    configured = current_app.config.get("MATCHING_WEIGHTS") or {}
    for node_id in reversed(org.ancestor_ids()):
        node = db.session.get(Org, node_id)
        if node is not None and node.code in configured:
            return engine.Weights(**configured[node.code])
    return engine.Weights(**configured.get("default", {}))


# --- runs -----------------------------------------------------------------------------------

def _day_start(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time())


def withdraw_proposals(path: str, start: date, end: date, reason: str) -> int:
    """Earlier proposals nobody confirmed are replaced by the new run's (one UPDATE)."""
    in_range = (select(NeedSlot.id).join(Need, NeedSlot.need_id == Need.id)
                .where(Need.org_path.startswith(path, autoescape=True),
                       NeedSlot.start >= _day_start(start),
                       NeedSlot.start < _day_start(end + timedelta(days=1))))
    result = db.session.execute(
        update(Assignment).where(Assignment.state == "proposed", Assignment.slot_id.in_(in_range))
        .values(state="cancelled", reason=reason, cancelled_at=utcnow())
        .execution_options(synchronize_session=False))
    db.session.expire_all()
    return result.rowcount


def _check_range(start: date, end: date) -> None:
    if end < start:
        raise ValidationFailed(_l("The end date must not be before the start date."),
                               code="DATE_RANGE", field="end")
    if (end - start).days >= MAX_RUN_DAYS:
        raise ValidationFailed(_l("Match at most %(days)d days at once.", days=MAX_RUN_DAYS),
                               code="DATE_RANGE_TOO_LONG", field="end")


def slot_window(start: date, end: date) -> tuple[datetime, datetime]:
    return max(_day_start(start), needs.local_now()), _day_start(end + timedelta(days=1))


def load_tables(org: Org, start: date, end: date, *, except_slot_ids=()):
    """(open slots of the org's subtree in the range, the org's active volunteer pool)."""
    first, stop = slot_window(start, end)
    slots, paths = loading.load_slot_rows(
        Need.org_path.startswith(org.path, autoescape=True), first, stop)
    pool = cache.org_pool(org.path, today=needs.local_today(), now=needs.local_now(),
                          except_slot_ids=except_slot_ids)
    vocabulary = pool.vocabulary()
    return loading.SlotSet(slots, paths, vocabulary), pool


def new_run(org: Org, start: date, end: date, *, by, kind: str) -> MatchingRun:
    run = MatchingRun(org=org, kind=kind, start_date=start, end_date=end,
                      created_by_id=by.id if by else None, stats={})
    db.session.add(run)
    db.session.flush()
    return run


def run_matching(org: Org, start: date, end: date, *, by, kind: str = "manual") -> MatchingRun:
    """Propose volunteers for every open slot of the org's subtree between two dates.

    Earlier unconfirmed proposals in the range are replaced; confirmed and accepted
    assignments are kept and count as busy time. The engine gives a volunteer one slot
    per solve, so up to MAX_ROUNDS rounds run, each seeing the previous ones as busy.
    """
    if by is not None:
        require(by, "needs.manage", org)
    _check_range(start, end)
    began = time.perf_counter()
    run = new_run(org, start, end, by=by, kind=kind)
    withdrawn = withdraw_proposals(org.path, start, end, f"superseded by matching run {run.id}")
    slots, pool = load_tables(org, start, end)
    vols = pool.table() if len(pool) else None
    match_into(run, slots.slots, vols, weights_for(org), withdrawn=withdrawn,
               loading_seconds=time.perf_counter() - began)
    return run


def match_into(run: MatchingRun, slots: list[engine.Slot], vols, weights: engine.Weights, *,
               withdrawn: int, loading_seconds: float) -> None:
    """Solve in rounds, then write the proposals and the run's stats."""
    t0 = time.perf_counter()
    outcome = _solve_rounds(slots, vols, weights)
    t1 = time.perf_counter()
    _persist(run, outcome.proposals)
    pool_size = len(vols) if vols is not None else 0
    run.stats = {
        "slots": len(slots), "volunteers": pool_size, "filled": len(outcome.proposals),
        "rounds": outcome.rounds, "withdrawn": withdrawn, "candidate_edges": outcome.edges,
        "seconds": round(outcome.engine_seconds, 4),
        "total_distance_km": round(sum(p["distance"] for p in outcome.proposals), 2),
        "unfilled": outcome.unfilled,
        "series_whole_feasible": outcome.series_whole_feasible,
        "phase_seconds": {"loading": round(loading_seconds, 4), "engine": round(t1 - t0, 4),
                          "persisting": round(time.perf_counter() - t1, 4)},
    }
    db.session.flush()


@dataclass
class _Outcome:
    proposals: list[dict] = field(default_factory=list)
    unfilled: list[dict] = field(default_factory=list)
    rounds: int = 0
    edges: int = 0
    engine_seconds: float = 0.0
    # Needs whose series (in round 1) had a volunteer feasible for every occurrence.
    series_whole_feasible: list[int] = field(default_factory=list)

    def note_series(self, slots, series, solved) -> None:
        whole = np.isin(series, solved.whole_feasible)
        self.series_whole_feasible = sorted({slots[row].need_id for row in np.flatnonzero(whole)})


def _solve_rounds(slots: list[engine.Slot], vols, weights: engine.Weights, *,
                  max_rounds: int = MAX_ROUNDS) -> _Outcome:
    """Round 1 gives each series to one volunteer where one can take every occurrence;
    later rounds fill what is left slot by slot (a volunteer takes one row per solve)."""
    outcome = _Outcome()
    if vols is None or len(vols) == 0:
        outcome.unfilled = [{"slot_id": s.id, "reason": "no_volunteers", "detail": ""}
                            for s in slots]
        return outcome
    remaining = sorted(slots, key=lambda s: s.id)
    while remaining and outcome.rounds < max_rounds:
        outcome.rounds += 1
        table = SlotTable.from_slots(remaining, vols.vocabulary)
        t0 = time.perf_counter()
        series = series_module.series_of(remaining) if outcome.rounds == 1 and _continuity_on() else None
        if series is not None and (series != series_module.NO_SERIES).any():
            solved = series_module.solve_with_series(table, vols, weights, series)
            graph, assignment, edges = solved.graph, solved.assignment, solved.single_edges
            outcome.note_series(remaining, series, solved)
        else:
            phase = solver.solve_tables(table, vols, weights)
            graph, assignment = phase.graph, phase.assignment
            edges = solver.assignment_edges(graph, assignment)
            solved = None
        outcome.engine_seconds += time.perf_counter() - t0
        outcome.edges += graph.n_edges
        filled = np.flatnonzero(assignment != solver.UNASSIGNED)
        for row in filled:
            if solved is not None and (int(row), int(assignment[row])) in solved.bundled:
                facts = solved.bundled[(int(row), int(assignment[row]))]
                outcome.proposals.append(_series_proposal(remaining[row], vols, int(assignment[row]),
                                                          facts, outcome.rounds))
            else:
                outcome.proposals.append(_proposal(remaining[row], vols, graph, int(edges[row]),
                                                   outcome.rounds))
        outcome.unfilled = [_unfilled(remaining[row], graph, row)
                            for row in np.flatnonzero(assignment == solver.UNASSIGNED)]
        if len(filled) == 0:
            break
        vols = loading.with_assignments(vols, assignment[filled], table.start_minute[filled],
                                        table.end_minute[filled], table.beneficiary[filled])
        taken = set(filled.tolist())
        remaining = [s for row, s in enumerate(remaining) if row not in taken]
    return outcome


def _continuity_on() -> bool:
    return bool(current_app.config.get("MATCHING_SERIES_CONTINUITY", True))


def _series_proposal(slot: engine.Slot, vols, vi: int, facts, round_no: int) -> dict:
    skills = vols.vocabulary.skills
    explanation = {
        "relation": candidates.RELATIONS[facts.relation], "distance_km": round(facts.km, 2),
        "skills_matched": {
            code: {"level": int(vols.skill_levels[vi, skills[code]]) if code in skills else 0,
                   "required": level}
            for code, level in sorted(slot.required_skills.items())},
        "recent_load": int(vols.recent_load[vi]), "continuity": facts.continuity,
        "preference_hit": facts.preference,
        "preference_misses": [k for i, k in enumerate(PREFERENCE_KINDS) if facts.misses >> i & 1],
        "series": True, "round": round_no,
    }
    return {"slot_id": slot.id, "volunteer_id": int(vols.ids[vi]), "cost": facts.cost,
            "explanation": explanation, "distance": facts.km}


def _unfilled(slot: engine.Slot, graph, row: int) -> dict:
    reason = candidates.reason_name(int(graph.reason[row]))
    return {"slot_id": slot.id, "reason": reason, "detail": solver.unfilled_detail(slot, reason)}


def _proposal(slot: engine.Slot, vols, graph, edge: int, round_no: int) -> dict:
    """An assignment row with the explanation of its pairing, from the graph's columns."""
    vi = int(graph.vol_idx[edge])
    skills = vols.vocabulary.skills
    bits = int(graph.preference_misses[edge]) if graph.preference_misses is not None else 0
    km = float(graph.distance_km[edge])
    explanation = {
        "relation": candidates.RELATIONS[int(graph.relation[edge])],
        "distance_km": round(km, 2),
        "skills_matched": {
            code: {"level": int(vols.skill_levels[vi, skills[code]]) if code in skills else 0,
                   "required": level}
            for code, level in sorted(slot.required_skills.items())},
        "recent_load": int(vols.recent_load[vi]),
        "continuity": bool(graph.continuity[edge]),
        "preference_hit": bool(graph.preference[edge]),
        "preference_misses": [k for i, k in enumerate(PREFERENCE_KINDS) if bits >> i & 1],
        "round": round_no,
    }
    return {"slot_id": slot.id, "volunteer_id": int(vols.ids[vi]), "cost": int(graph.cost[edge]),
            "explanation": explanation, "distance": km}


def _persist(run: MatchingRun, proposals: list[dict]) -> None:
    """All proposals in one INSERT (executemany), no ORM object per row."""
    if not proposals:
        return
    now = utcnow()
    db.session.execute(insert(Assignment), [
        {"slot_id": p["slot_id"], "volunteer_id": p["volunteer_id"], "run_id": run.id,
         "source": "matching", "state": "proposed", "cost": p["cost"],
         "explanation": p["explanation"], "created_at": now} for p in proposals])
    db.session.expire(run, ["assignments"])


def run_view(run: MatchingRun) -> dict:
    """The run as the API returns it, its proposals read in one Core query (thousands of
    ORM objects with their eager joins would cost more than the matching)."""
    rows = db.session.connection().execute(
        select(Assignment.id, Assignment.slot_id, NeedSlot.need_id, Need.title, NeedSlot.start,
               NeedSlot.end, Assignment.volunteer_id, Volunteer.real_name, Assignment.run_id,
               Assignment.source, Assignment.state, Assignment.cost, Assignment.explanation,
               Assignment.reason, Assignment.created_at, Assignment.confirmed_at,
               Assignment.responded_at)
        .join(NeedSlot, Assignment.slot_id == NeedSlot.id).join(Need, NeedSlot.need_id == Need.id)
        .join(Volunteer, Assignment.volunteer_id == Volunteer.id)
        .where(Assignment.run_id == run.id).order_by(Assignment.id)).mappings().all()
    proposals = [dict(row) | {"slot": {"need_id": row["need_id"], "need": {"title": row["title"]},
                                       "start": row["start"], "end": row["end"]},
                              "volunteer": {"real_name": row["real_name"]}} for row in rows]
    fields_ = ("id", "org_id", "kind", "start_date", "end_date", "created_by_id", "created_at",
               "stats")
    return {name: getattr(run, name) for name in fields_} | {"assignments": proposals}


def get_run(run_id: int, *, by) -> MatchingRun:
    run = db.session.get(MatchingRun, run_id)
    if run is None or not can(by, "needs.read", run.org):
        raise NotFound()
    return run


def search_runs(user):
    return select(MatchingRun).join(Org, MatchingRun.org_id == Org.id).where(
        path_filter(Org.path, scope_paths(user, "needs.read"))).order_by(MatchingRun.id.desc())


# --- one assignment -------------------------------------------------------------------------

def get_assignment(assignment_id: int, *, by) -> Assignment:
    """An assignment for an organizer in scope, or for its own volunteer."""
    assignment = db.session.get(Assignment, assignment_id)
    if assignment is None:
        raise NotFound()
    volunteer = getattr(by, "volunteer", None)
    if volunteer is not None and volunteer.id == assignment.volunteer_id and \
            assignment.state != "proposed":  # unconfirmed proposals are the organizer's draft
        return assignment
    if can(by, "needs.read", assignment.need.org):
        return assignment
    raise NotFound()


def search_assignments(user, *, run_id=None, need_id=None, state=None, volunteer_id=None):
    query = (select(Assignment).join(NeedSlot, Assignment.slot_id == NeedSlot.id)
             .join(Need, NeedSlot.need_id == Need.id)
             .where(path_filter(Need.org_path, scope_paths(user, "needs.read"))))
    if run_id:
        query = query.where(Assignment.run_id == run_id)
    if need_id:
        query = query.where(Need.id == need_id)
    if state:
        query = query.where(Assignment.state == state)
    if volunteer_id:
        query = query.where(Assignment.volunteer_id == volunteer_id)
    return query.order_by(NeedSlot.start, Assignment.id)


def tasks_current_since() -> datetime:
    """A task ending after this is still current (its check-out may still come): lists show
    it among the coming ones, not the past."""
    from volunteer_hub.records.services import missing_checkout_grace

    return needs.local_now() - missing_checkout_grace()


def my_assignments(volunteer: Volunteer, *, current_only: bool = False):
    """The volunteer's tasks (not the organizer's unconfirmed proposals): current and coming
    ones soonest first, then past ones latest first (a long past must not push the task
    happening now off the first page)."""
    query = (select(Assignment).join(NeedSlot, Assignment.slot_id == NeedSlot.id)
             .where(Assignment.volunteer_id == volunteer.id, Assignment.state != "proposed"))
    if current_only:
        query = query.where(Assignment.state.in_(ACTIVE_STATES),
                            NeedSlot.end >= needs.local_now())
    current = NeedSlot.end >= tasks_current_since()
    return query.order_by(case((current, 0), else_=1),
                          case((current, NeedSlot.start)), NeedSlot.start.desc(),
                          case((current, Assignment.id)), Assignment.id.desc())


def _is_own(assignment: Assignment, by) -> bool:
    volunteer = getattr(by, "volunteer", None)
    return volunteer is not None and volunteer.id == assignment.volunteer_id


def _require_manager(assignment: Assignment, by) -> None:
    if by is None:
        return
    org = assignment.need.org
    visible = _is_own(assignment, by) or can(by, "needs.read", org)
    require(by, "needs.manage", org, hide=not visible)


def _require_own(assignment: Assignment, by) -> None:
    if _is_own(assignment, by):
        return
    if can(by, "needs.read", assignment.need.org):
        raise DomainError(_l("Only the volunteer can answer."), code="NOT_YOUR_TASK",
                          status=403)
    raise NotFound()


def _expect(assignment: Assignment, *states: str) -> None:
    if assignment.state not in states:
        raise Conflict(_l("This task is %(state)s: that is not possible now.",
                          state=ASSIGNMENT_STATE_LABELS[assignment.state]),
                       code="ASSIGNMENT_STATE", field="state")


def _when(slot: NeedSlot) -> str:
    # Slot times are naive local wall clock; flask-babel would take a naive time for UTC.
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return format_datetime(slot.start.replace(tzinfo=zone), "short")


def _task_link(assignment: Assignment) -> str:
    return f"/me/tasks/{assignment.id}"


def _overlapping_commitment(assignment: Assignment) -> bool:
    slot = assignment.slot
    return db.session.execute(
        select(Assignment.id).join(NeedSlot, Assignment.slot_id == NeedSlot.id)
        .where(Assignment.volunteer_id == assignment.volunteer_id,
               Assignment.id != assignment.id, Assignment.state.in_(COMMITTED_STATES),
               NeedSlot.status.in_(("open", "filled")),
               NeedSlot.start < slot.end, slot.start < NeedSlot.end).limit(1)).first() is not None


def _fill(assignment: Assignment) -> None:
    assignment.slot.status = "filled"
    needs.refresh_need_state(assignment.need)


def _release(assignment: Assignment) -> None:
    if assignment.slot.status == "filled":
        assignment.slot.status = "open"
    needs.refresh_need_state(assignment.need)


def confirm_assignment(assignment: Assignment, *, by) -> Assignment:
    """An organizer confirms a proposal (the volunteer is asked) or approves a sign-up."""
    _require_manager(assignment, by)
    _expect(assignment, "proposed", "pending_approval")
    if assignment.need.state not in needs.MATCHABLE_STATES + ("in_progress",):
        raise Conflict(_l("This need no longer takes volunteers."), code="NEED_NOT_OPEN")
    if _overlapping_commitment(assignment):
        raise Conflict(_l("This volunteer already has a task at that time."),
                       code="VOLUNTEER_BUSY")
    approving = assignment.state == "pending_approval"
    assignment.state = "accepted" if approving else "confirmed"
    assignment.confirmed_at = utcnow()
    assignment.confirmed_by_id = by.id if by else None
    if approving:
        assignment.responded_at = assignment.responded_at or utcnow()
    _fill(assignment)
    title, when = assignment.need.title, _when(assignment.slot)
    message = _l("Your sign-up for \"%(title)s\" on %(when)s is approved.", title=title,
                 when=when) if approving else \
        _l("You are asked to help: \"%(title)s\" on %(when)s. Please accept or decline.",
           title=title, when=when)
    event = "approved" if approving else "confirmed"
    needs.notify(assignment.volunteer.user, message, link=_task_link(assignment),
                 event_key=f"match:{assignment.id}:{event}")
    db.session.flush()
    return assignment


def accept_assignment(assignment: Assignment, *, by) -> Assignment:
    """The volunteer accepts a confirmed task."""
    _require_own(assignment, by)
    _expect(assignment, "confirmed")
    assignment.state = "accepted"
    assignment.responded_at = utcnow()
    db.session.flush()
    return assignment


def decline_assignment(assignment: Assignment, *, reason: str | None = None,
                       by) -> Assignment:
    """The volunteer declines; only this slot is matched again."""
    _require_own(assignment, by)
    _expect(assignment, "confirmed", "pending_approval")
    assignment.state = "declined"
    assignment.reason = (reason or "").strip() or None
    assignment.responded_at = utcnow()
    _release(assignment)
    db.session.flush()
    rematch_slot(assignment.slot, previous=assignment, by=by)
    return assignment


def cancel_assignment(assignment: Assignment, *, reason: str | None = None,
                      by) -> Assignment:
    """The organizer drops a proposal or a task, or the volunteer withdraws; re-match it."""
    own = _is_own(assignment, by)
    if own and assignment.state != "proposed":
        _expect(assignment, "pending_approval", "confirmed", "accepted")
    else:
        _require_manager(assignment, by)
        _expect(assignment, *ACTIVE_STATES)
    was_committed = assignment.state in COMMITTED_STATES
    assignment.state = "cancelled"
    assignment.reason = (reason or "").strip() or None
    assignment.cancelled_at = utcnow()
    assignment.cancelled_by_id = by.id if by else None
    _release(assignment)
    if was_committed and not own:
        needs.notify(assignment.volunteer.user,
                     _l("Your task \"%(title)s\" on %(when)s was cancelled.",
                        title=assignment.need.title, when=_when(assignment.slot)),
                     link=_task_link(assignment), event_key=f"match:{assignment.id}:cancelled")
    db.session.flush()
    rematch_slot(assignment.slot, previous=assignment, by=by)
    return assignment


def rematch_slot(slot: NeedSlot, *, previous: Assignment | None = None,
                 by=None) -> Assignment | None:
    """Propose a new volunteer for one slot; every other assignment stays as it is.

    Volunteers who already declined or dropped this slot are left out.
    """
    need = slot.need
    if need.state not in needs.MATCHABLE_STATES or slot.status != "open" or \
            slot.start <= needs.local_now():
        return None
    if db.session.execute(select(Assignment.id).where(
            Assignment.slot_id == slot.id, Assignment.state.in_(ACTIVE_STATES))).first():
        return None
    org = previous.run.org if previous is not None and previous.run is not None else need.org
    excluded = set(db.session.execute(select(Assignment.volunteer_id).where(
        Assignment.slot_id == slot.id,
        Assignment.state.in_(("declined", "cancelled")))).scalars())
    pool = cache.org_pool(org.path, today=needs.local_today(), now=needs.local_now(),
                          except_slot_ids=[slot.id])
    keep = ~np.isin(pool.ids, np.fromiter(excluded, dtype=np.int64))
    vols = pool.table(keep) if keep.any() else None
    outcome = _solve_rounds([engine_slot(slot)], vols, weights_for(org), max_rounds=1)
    day = slot.start.date()
    run = MatchingRun(org=org, kind="rematch", start_date=day, end_date=day,
                      created_by_id=by.id if by else None,
                      stats={"slots": 1, "volunteers": int(keep.sum()),
                             "filled": len(outcome.proposals), "excluded": sorted(excluded),
                             "unfilled": outcome.unfilled})
    db.session.add(run)
    db.session.flush()
    proposal = None
    for row in outcome.proposals:
        proposal = Assignment(slot_id=slot.id, volunteer_id=row["volunteer_id"], run=run,
                              source="matching", state="proposed", cost=row["cost"],
                              explanation=row["explanation"])
        db.session.add(proposal)
    if previous is not None and previous.confirmed_by_id:
        from volunteer_hub.accounts.models import User

        organizer = db.session.get(User, previous.confirmed_by_id)
        if organizer is not None:
            message = _l("%(name)s cannot do \"%(title)s\" on %(when)s: a new proposal is "
                         "waiting for you.", name=previous.volunteer.real_name,
                         title=need.title, when=_when(slot)) if proposal else \
                _l("%(name)s cannot do \"%(title)s\" on %(when)s and nobody else fits.",
                   name=previous.volunteer.real_name, title=need.title, when=_when(slot))
            needs.notify(organizer, message, link=f"/org/needs/{need.id}",
                         event_key=f"match:{previous.id}:{previous.state}:organizer")
    db.session.flush()
    return proposal


def refusal(rule: rules.Rule) -> DomainError:
    """The rule's refusal, in the reader's language (its text is declared in rules.py)."""
    return DomainError(_l(rule.refusal), code=rule.refusal_code, status=rule.status)


def _feasibility_error(slot: engine.Slot, volunteer: engine.Volunteer) -> DomainError | None:
    broken = rules.failed_rules(slot, volunteer)
    return refusal(broken[0]) if broken else None


def replace_volunteer(assignment: Assignment, volunteer_id: int | None = None, *,
                      person: str | None = None, by) -> Assignment:
    """The organizer puts someone else on a proposal (the same feasibility rules apply):
    by id (API), or by volunteer code, phone or name (pages: people never see ids)."""
    _require_manager(assignment, by)
    _expect(assignment, "proposed")
    field_name = "volunteer_id" if person is None else "person"
    if person is not None:
        from volunteer_hub.matching.why_not import find_person

        volunteer = find_person(person, by=by)
    else:
        volunteer = db.session.get(Volunteer, volunteer_id)
    if volunteer is None or (by is not None and not can(by, "volunteers.read",
                                                        volunteer.community)):
        raise ValidationFailed(_l("Unknown volunteer."), code="VOLUNTEER_UNKNOWN",
                               field=field_name)
    slot = engine_slot(assignment.slot)
    candidate = engine_volunteers([volunteer], except_slot_ids=[assignment.slot_id])[0]
    error = _feasibility_error(slot, candidate)
    if error is not None:
        raise ValidationFailed(error.message, code=error.code, field=field_name)
    assignment.volunteer_id = volunteer.id
    assignment.volunteer = volunteer
    assignment.source = "manual"
    assignment.cost = engine.pair_cost(slot, candidate, weights_for(assignment.need.org))
    assignment.explanation = _manual_explanation(slot, candidate)
    db.session.flush()
    return assignment


def _relation_km(slot: engine.Slot, volunteer: engine.Volunteer) -> tuple[str, float | None]:
    if None not in (slot.lat, slot.lon, volunteer.lat, volunteer.lon):
        return "coordinates", needs.haversine_km(slot.lat, slot.lon, volunteer.lat,
                                                 volunteer.lon)
    for relation, mine, theirs in (("same_grid", slot.grid_id, volunteer.grid_id),
                                   ("same_community", slot.community_id,
                                    volunteer.community_id),
                                   ("same_street", slot.street_id, volunteer.street_id)):
        if mine is not None and mine == theirs:
            return relation, HIERARCHY_KM[relation]
    return "farther", None


def _manual_explanation(slot: engine.Slot, volunteer: engine.Volunteer) -> dict:
    relation, km = _relation_km(slot, volunteer)
    return {
        "relation": relation, "distance_km": round(km, 2) if km is not None else None,
        "skills_matched": {code: {"level": volunteer.skills.get(code, 0), "required": level}
                           for code, level in sorted(slot.required_skills.items())},
        "recent_load": volunteer.recent_load,
        "continuity": slot.beneficiary_id in volunteer.served_beneficiaries,
        "preference_hit": False, "manual": True,
    }


# --- volunteers help themselves -------------------------------------------------------------

def open_needs_for(volunteer: Volunteer, *, skill: str | None = None,
                   limit: int = 50) -> list[dict]:
    """Published needs with a free slot this volunteer may take, nearest first.

    One entry per need: its first feasible slot, the number of such slots, the distance.
    """
    now = needs.local_now()
    taken = exists().where(Assignment.slot_id == NeedSlot.id,
                           Assignment.state.in_(ACTIVE_STATES))
    declined = exists().where(Assignment.slot_id == NeedSlot.id,
                              Assignment.volunteer_id == volunteer.id)
    rows = db.session.execute(
        select(NeedSlot).join(Need, NeedSlot.need_id == Need.id)
        .where(Need.state.in_(needs.MATCHABLE_STATES), NeedSlot.status == "open",
               NeedSlot.start > now, NeedSlot.start < now + timedelta(days=OPEN_NEEDS_HORIZON_DAYS),
               ~taken, ~declined)
        .order_by(NeedSlot.start, NeedSlot.id).limit(2000)).scalars().all()
    if skill:
        rows = [s for s in rows if skill in (s.need.required_skills or {})]
    me = engine_volunteers([volunteer])[0]
    found: dict[int, dict] = {}
    for slot in rows:
        entry = found.get(slot.need_id)
        if entry is not None and entry["slot"].start == slot.start:
            entry["open_slots"] += 1  # another place in the same occurrence
            continue
        candidate = distance_bands.as_listed(engine_slot(slot), slot.need)
        if not engine.is_feasible(candidate, me):
            continue
        if entry is None:
            band = distance_bands.band_to(slot.need, volunteer.lat, volunteer.lon)
            found[slot.need_id] = {"need": slot.need, "slot": slot, "open_slots": 1,
                                   "relation": _relation_km(candidate, me)[0],
                                   "distance_band": band.code if band else None,
                                   "distance_label": band.label if band else None}
        else:
            entry["open_slots"] += 1
    ordered = sorted(found.values(), key=lambda e: (
        distance_bands.rank(e["distance_band"]), e["slot"].start, e["need"].id))
    return ordered[:limit]


def _lock(model, row_id: int):
    """The row, locked until commit on PostgreSQL (SQLite serializes writers anyway)."""
    if is_postgresql():
        # Lock by id alone: FOR UPDATE refuses the outer joins of eager relationships.
        db.session.execute(select(model.id).where(model.id == row_id).with_for_update())
    return db.session.get(model, row_id, populate_existing=True)


def sign_up(need: Need, volunteer: Volunteer, *, slot_id: int | None = None,
            accept_risk: bool = False, by) -> Assignment:
    """A volunteer takes a free slot of a need under the engine's feasibility rules.

    No double booking: the volunteer's row and the slot's row are locked (PostgreSQL),
    the slot is checked free, and a partial unique index refuses a second active
    assignment on the slot should a concurrent sign-up slip through.
    """
    if by is not None and by.id != volunteer.user_id:
        raise NotFound()
    if need.state not in needs.MATCHABLE_STATES:
        raise Conflict(_l("This need does not take volunteers now."), code="NEED_NOT_OPEN")
    if (need.risk_disclosure or need.insurance_required) and not accept_risk:
        raise ValidationFailed(_l("Read the risks and insurance note and confirm you accept "
                                  "them."), code="RISK_NOT_ACCEPTED", field="accept_risk")
    _lock(Volunteer, volunteer.id)
    now = needs.local_now()
    if slot_id is not None:
        candidates = [s for s in need.slots if s.id == slot_id]
        if not candidates:
            raise NotFound()
    else:
        candidates = [s for s in need.slots if s.status == "open" and s.start > now]
    taken = set(db.session.execute(select(Assignment.slot_id).where(
        Assignment.slot_id.in_([s.id for s in candidates] or [-1]),
        Assignment.state.in_(ACTIVE_STATES))).scalars())
    mine = engine_volunteers([volunteer])[0]
    error = None
    for slot in candidates:
        if slot.id in taken or slot.status != "open" or slot.start <= now:
            continue
        error = _feasibility_error(engine_slot(slot), mine)
        if error is not None:
            continue
        locked = _lock(NeedSlot, slot.id)
        if locked is None or locked.status != "open" or db.session.execute(
                select(Assignment.id).where(Assignment.slot_id == slot.id,
                                            Assignment.state.in_(ACTIVE_STATES))).first():
            continue  # taken meanwhile: try the next free place
        assignment = Assignment(
            slot_id=slot.id, volunteer_id=volunteer.id, source="signup",
            state="pending_approval" if need.requires_approval else "accepted",
            cost=engine.pair_cost(engine_slot(slot), mine, weights_for(need.org)),
            explanation=_manual_explanation(engine_slot(slot), mine) | {"manual": False,
                                                                        "signup": True})
        if assignment.state == "accepted":
            assignment.responded_at = assignment.confirmed_at = utcnow()
        try:
            with db.session.begin_nested():
                db.session.add(assignment)
        except IntegrityError:
            continue  # the unique index saw a concurrent booking first
        if assignment.state == "accepted":
            _fill(assignment)
        db.session.flush()
        return assignment
    if error is not None:
        raise error
    raise Conflict(_l("All places of this need are taken."), code="SLOT_TAKEN")
