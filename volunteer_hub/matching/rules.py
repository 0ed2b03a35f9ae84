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


RULES: tuple[Rule, ...] = (
    Rule("none_within_distance", domain.within_distance, c.within_distance_mask, "TOO_FAR",
         _l("This need is farther from your home than it allows volunteers to travel.")),
    Rule("none_active", domain.is_active, _pairs(_active_mask), "VOLUNTEER_NOT_ACTIVE",
         _l("Only active volunteers can sign up: your registration is not active."),
         static=_static_active, filter_rank=0),
    Rule("missing_skill", domain.has_required_skills, _pairs(c.skills_mask), "SKILL_MISSING",
         _l("This need asks for a skill or level you have not declared."),
         static=_static_skills, filter_rank=4),
    Rule("missing_certification", domain.has_valid_certifications, _pairs(c.certifications_mask),
         "CERTIFICATION_MISSING", _l("This need asks for a certification valid on the day."),
         static=_static_certs_held, filter_rank=5),
    Rule("gender_mismatch", domain.matches_gender, _pairs(c.gender_mask), "GENDER_MISMATCH",
         _l("This personal care is given by a volunteer of the same gender."),
         static=_static_gender, filter_rank=6),
    Rule("adults_only", domain.meets_age, _pairs(c.age_mask), "ADULTS_ONLY",
         _l("This need is for adult volunteers only."), static=_static_age, filter_rank=7),
    Rule("background_check", domain.meets_background_check, _pairs(c.background_mask),
         "BACKGROUND_CHECK_REQUIRED", _l("Work with children needs a valid background check."),
         static=_static_background, filter_rank=8),
    Rule("not_available_weekly", domain.weekly_availability_covers, _pairs(c.weekly_availability_mask),
         "NOT_AVAILABLE", _l("The time is outside the hours you said you can help."), filter_rank=1),
    Rule("unavailable_that_day", domain.not_excepted_that_day, _pairs(c.exception_day_mask),
         "UNAVAILABLE_THAT_DAY", _l("You marked yourself unavailable on that day."), filter_rank=3),
    Rule("busy", domain.is_free, _pairs(c.free_mask), "ALREADY_BUSY",
         _l("You already have a task at that time."), status=409, filter_rank=2),
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
