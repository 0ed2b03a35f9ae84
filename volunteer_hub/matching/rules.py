"""The feasibility rules, each declared once.

A rule has a reason code (why a slot stayed empty, why a volunteer cannot take it), the
scalar check (domain.py, the reference), the vectorised mask over (slot, volunteer) pairs
(candidates.py), optionally a static prefilter (per slot, over all volunteers, true for
everyone who could pass the rule at some time: it picks whom to index in the kd-trees),
its rank in the fast filter, and the refusal a volunteer or an organizer reads.
domain.FEASIBILITY_RULES, candidates.REASONS / rule_masks / feasible_subset /
static_qualified and the service's refusals are all derived from RULES.

Order matters: it is the order used to name why a slot stayed empty, from the most
structural reason (nobody near) to the most circumstantial (all busy).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import candidates as c
from . import domain
from .domain import ADULT_AGE, Slot, UnfilledReason, Volunteer


def _l(text: str) -> str:
    """Marks a refusal for extraction into the catalogues; the service translates it."""
    return text


PairMask = Callable[..., c.BoolArray]  # (slots, vols, si, vi, rel, km) -> bool per pair
StaticMask = Callable[[c.SlotTable, c.VolunteerTable, int], c.BoolArray]
# Why the pair breaks the rule, in words: (English msgid, its parameters). Parameters are
# numbers, text, dates ("day"), a date whose weekday is meant ("weekday") or minutes of
# the day ("start", "end"); the service formats them for the reader.
Why = Callable[[Slot, Volunteer], tuple[str, dict[str, object]]]


@dataclass(frozen=True)
class Rule:
    reason: UnfilledReason
    check: Callable[[Slot, Volunteer], bool]
    mask: PairMask
    refusal_code: str
    refusal: str  # English msgid, translated where shown
    status: int = 422
    static: StaticMask | None = None
    # Position in candidates.feasible_subset (most selective first on the bench city;
    # None: applied after the others, with the pair's relation and distance).
    filter_rank: int | None = None
    why: Why | None = None


def _pairs(mask: Callable[[c.SlotTable, c.VolunteerTable, c.IntArray, c.IntArray], c.BoolArray]) -> PairMask:
    """A mask that needs neither the relation nor the distance of the pair."""

    def pair_mask(slots, vols, si, vi, rel=None, km=None):  # type: ignore[no-untyped-def]
        return mask(slots, vols, si, vi)

    pair_mask.__name__ = mask.__name__
    return pair_mask


def _active_mask(slots, vols, si, vi):  # type: ignore[no-untyped-def]
    return vols.active[vi]


def _static_active(slots: c.SlotTable, vols: c.VolunteerTable, row: int) -> c.BoolArray:
    return vols.active.copy()


def _static_skills(slots: c.SlotTable, vols: c.VolunteerTable, row: int) -> c.BoolArray:
    ok = np.full(len(vols), not slots.unknown_skill[row])
    for col in np.flatnonzero(slots.required_skills[row]):
        ok &= vols.skill_levels[:, col] >= slots.required_skills[row, col]
    return ok


def _static_certs_held(slots: c.SlotTable, vols: c.VolunteerTable, row: int) -> c.BoolArray:
    """Held at all (validity depends on the day, checked per pair)."""
    ok = np.full(len(vols), not slots.unknown_cert[row])
    for col in np.flatnonzero(slots.required_certs[row]):
        ok &= vols.cert_expiry[:, col] != 0
    return ok


def _static_gender(slots: c.SlotTable, vols: c.VolunteerTable, row: int) -> c.BoolArray:
    wanted = slots.gender[row]
    return np.ones(len(vols), dtype=bool) if wanted == -1 else vols.gender == wanted


def _static_age(slots: c.SlotTable, vols: c.VolunteerTable, row: int) -> c.BoolArray:
    return vols.age >= ADULT_AGE if slots.adults_only[row] else np.ones(len(vols), dtype=bool)


def _static_background(slots: c.SlotTable, vols: c.VolunteerTable, row: int) -> c.BoolArray:
    if slots.needs_background_check[row]:
        return vols.background_checked.copy()
    return np.ones(len(vols), dtype=bool)


# --- why a pair breaks a rule, in words (organizers ask "why not this person?") ------------


def _why_distance(slot: Slot, v: Volunteer) -> tuple[str, dict[str, object]]:
    relation, km = domain.relation_and_distance(slot, v)
    if v.max_travel_km is not None and km > v.max_travel_km:
        return _l("%(km).1f km away, over their own limit of %(limit).1f km."), {"km": km, "limit": v.max_travel_km}
    if relation == "coordinates" and slot.max_distance_km is not None:
        return _l("%(km).1f km away, over the %(limit).1f km this need allows."), {"km": km, "limit": slot.max_distance_km}
    return _l("Without map coordinates, only volunteers of the same grid, community or street "
              "(when the need allows 3 km) are considered."), {}


def _why_active(slot: Slot, v: Volunteer) -> tuple[str, dict[str, object]]:
    return _l("Their registration is not active."), {}


def _why_skill(slot: Slot, v: Volunteer) -> tuple[str, dict[str, object]]:
    short = [(code, level) for code, level in sorted(slot.required_skills.items()) if v.skills.get(code, 0) < level]
    code, level = short[0]
    return _l("Needs %(skill)s at level %(level)d; they have level %(has)d."), {
        "skill": code, "level": level, "has": v.skills.get(code, 0)}


def _why_certification(slot: Slot, v: Volunteer) -> tuple[str, dict[str, object]]:
    last_day = domain.slot_last_date(slot)
    for code in sorted(slot.required_certifications):
        if code not in v.certifications:
            return _l("Needs a valid %(certification)s; they have none."), {"certification": code}
        expiry = v.certifications[code]
        if expiry is not None and expiry < last_day:
            return _l("Their %(certification)s expires on %(day)s, before the task."), {
                "certification": code, "day": expiry}
    return _l("Needs a certificate they do not hold."), {}


def _why_gender(slot: Slot, v: Volunteer) -> tuple[str, dict[str, object]]:
    return _l("This personal care is given by a volunteer of the same gender."), {}


def _why_age(slot: Slot, v: Volunteer) -> tuple[str, dict[str, object]]:
    return _l("For adults only; they are %(age)d."), {"age": v.age}


def _why_background(slot: Slot, v: Volunteer) -> tuple[str, dict[str, object]]:
    return _l("Needs a valid background check; they have none."), {}


def _why_weekly(slot: Slot, v: Volunteer) -> tuple[str, dict[str, object]]:
    start, end = domain.minutes_floor(slot.start), domain.minutes_ceil(slot.end)
    return _l("Not available on %(weekday)s %(start)s-%(end)s (their weekly hours)."), {
        "weekday": slot.start.date(), "start": start % domain.MINUTES_PER_DAY,
        "end": (end - 1) % domain.MINUTES_PER_DAY + 1}


def _why_day(slot: Slot, v: Volunteer) -> tuple[str, dict[str, object]]:
    days = sorted(d for d in v.unavailable_dates if slot.start.date() <= d <= slot.end.date())
    return _l("Marked unavailable on %(day)s."), {"day": days[0] if days else slot.start.date()}


def _why_busy(slot: Slot, v: Volunteer) -> tuple[str, dict[str, object]]:
    start, end = domain.minutes_floor(slot.start), domain.minutes_ceil(slot.end)
    for b_start, b_end in sorted(v.busy):
        if domain.minutes_floor(b_start) < end and start < domain.minutes_ceil(b_end):
            return _l("Already booked from %(from)s to %(to)s."), {"from": b_start, "to": b_end}
    return _l("Already booked at that time."), {}


RULES: tuple[Rule, ...] = (
    Rule("none_within_distance", domain.within_distance, c.within_distance_mask, "TOO_FAR",
         _l("This need is farther from your home than it allows volunteers to travel."), why=_why_distance),
    Rule("none_active", domain.is_active, _pairs(_active_mask), "VOLUNTEER_NOT_ACTIVE",
         _l("Only active volunteers can sign up: your registration is not active."),
         static=_static_active, filter_rank=0, why=_why_active),
    Rule("missing_skill", domain.has_required_skills, _pairs(c.skills_mask), "SKILL_MISSING",
         _l("This need asks for a skill or level you have not declared."),
         static=_static_skills, filter_rank=4, why=_why_skill),
    Rule("missing_certification", domain.has_valid_certifications, _pairs(c.certifications_mask),
         "CERTIFICATION_MISSING", _l("This need asks for a certification valid on the day."),
         static=_static_certs_held, filter_rank=5, why=_why_certification),
    Rule("gender_mismatch", domain.matches_gender, _pairs(c.gender_mask), "GENDER_MISMATCH",
         _l("This personal care is given by a volunteer of the same gender."),
         static=_static_gender, filter_rank=6, why=_why_gender),
    Rule("adults_only", domain.meets_age, _pairs(c.age_mask), "ADULTS_ONLY",
         _l("This need is for adult volunteers only."), static=_static_age, filter_rank=7, why=_why_age),
    Rule("background_check", domain.meets_background_check, _pairs(c.background_mask),
         "BACKGROUND_CHECK_REQUIRED", _l("Work with children needs a valid background check."),
         static=_static_background, filter_rank=8, why=_why_background),
    Rule("not_available_weekly", domain.weekly_availability_covers, _pairs(c.weekly_availability_mask),
         "NOT_AVAILABLE", _l("The time is outside the hours you said you can help."), filter_rank=1, why=_why_weekly),
    Rule("unavailable_that_day", domain.not_excepted_that_day, _pairs(c.exception_day_mask),
         "UNAVAILABLE_THAT_DAY", _l("You marked yourself unavailable on that day."), filter_rank=3, why=_why_day),
    Rule("busy", domain.is_free, _pairs(c.free_mask), "ALREADY_BUSY",
         _l("You already have a task at that time."), status=409, filter_rank=2, why=_why_busy),
)

BY_REASON: dict[str, Rule] = {rule.reason: rule for rule in RULES}
FEASIBILITY_RULES: tuple[tuple[UnfilledReason, Callable[[Slot, Volunteer], bool]], ...] = tuple(
    (rule.reason, rule.check) for rule in RULES
)
REASONS: tuple[UnfilledReason, ...] = tuple(rule.reason for rule in RULES)
FAST_FILTER: tuple[Rule, ...] = tuple(
    sorted((r for r in RULES if r.filter_rank is not None), key=lambda r: r.filter_rank or 0)
)
LAST_FILTER: tuple[Rule, ...] = tuple(r for r in RULES if r.filter_rank is None)
STATIC_PREFILTERS: tuple[StaticMask, ...] = tuple(r.static for r in RULES if r.static is not None)


def failed_rules(slot: Slot, volunteer: Volunteer) -> list[Rule]:
    """Every rule the pair breaks, in RULES order."""
    return [rule for rule in RULES if not rule.check(slot, volunteer)]
