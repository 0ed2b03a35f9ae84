"""Value objects of the matching engine.

Pure data: no Flask, no SQLAlchemy. All datetimes are naive local times of the
station; the engine never converts time zones.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import Literal

Priority = Literal["urgent", "high", "normal"]
Relation = Literal["coordinates", "same_grid", "same_community", "same_street", "farther"]

PRIORITIES: tuple[Priority, ...] = ("urgent", "high", "normal")
# Rank used to weigh an unfilled slot: an urgent slot outranks a high one, etc.
PRIORITY_RANK: Mapping[str, int] = MappingProxyType({"urgent": 3, "high": 2, "normal": 1})



def _no_skills() -> Mapping[str, int]:
    return MappingProxyType({})


def _no_certs() -> Mapping[str, date | None]:
    return MappingProxyType({})


@dataclass(frozen=True)
class WeeklyWindow:
    """A recurring availability window: weekday 0=Monday, minutes since midnight."""

    weekday: int
    start_minute: int
    end_minute: int

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0..6, got {self.weekday}")
        if not 0 <= self.start_minute < self.end_minute <= 24 * 60:
            raise ValueError(f"bad window minutes {self.start_minute}..{self.end_minute}")


@dataclass(frozen=True)
class Volunteer:
    id: int
    lat: float | None = None
    lon: float | None = None
    grid_id: int | None = None
    community_id: int | None = None
    street_id: int | None = None
    gender: str = "unknown"
    age: int = 30
    active: bool = True
    skills: Mapping[str, int] = field(default_factory=_no_skills)
    # cert code -> expiry date (inclusive); None means the cert never expires.
    certifications: Mapping[str, date | None] = field(default_factory=_no_certs)
    background_checked: bool = False
    availability: tuple[WeeklyWindow, ...] = ()
    unavailable_dates: frozenset[date] = frozenset()
    busy: tuple[tuple[datetime, datetime], ...] = ()
    recent_load: int = 0
    served_beneficiaries: frozenset[int] = frozenset()
    preferred_need_types: frozenset[str] = frozenset()
    # The volunteer's own travel limit: a hard rule, like the need's.
    max_travel_km: float | None = None
    # Soft preferences: an empty set means "no preference" and never costs anything.
    preferred_weekdays: frozenset[int] = frozenset()
    preferred_day_parts: frozenset[str] = frozenset()  # DAY_PARTS
    preferred_categories: frozenset[str] = frozenset()  # beneficiary categories

    @property
    def has_coordinates(self) -> bool:
        return self.lat is not None and self.lon is not None


@dataclass(frozen=True)
class Slot:
    id: int
    need_id: int
    need_type: str
    priority: Priority
    start: datetime
    end: datetime
    lat: float | None = None
    lon: float | None = None
    grid_id: int | None = None
    community_id: int | None = None
    street_id: int | None = None
    max_distance_km: float | None = None
    required_skills: Mapping[str, int] = field(default_factory=_no_skills)
    required_certifications: frozenset[str] = frozenset()
    same_gender: str | None = None
    adults_only: bool = False
    needs_background_check: bool = False
    beneficiary_id: int | None = None
    beneficiary_category: str | None = None

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"slot {self.id}: end must be after start")
        if self.priority not in PRIORITY_RANK:
            raise ValueError(f"slot {self.id}: unknown priority {self.priority!r}")

    @property
    def has_coordinates(self) -> bool:
        return self.lat is not None and self.lon is not None


@dataclass(frozen=True)
class Weights:
    """Per-organisation cost weights, in cost points.

    One point is roughly "one extra kilometre of travel": distance is charged
    per km, everything else is expressed relative to that.
    """

    distance: float = 1.0  # per km (haversine, or hierarchy distance)
    # Defaults tuned on the bench city (docs/BENCHMARKS-matching.md, fairness): organizers
    # want work rotated (issue #3: 8-round Gini over eligible volunteers <= 0.70 for at
    # most 10 % more travel than without fairness terms). The Gini is dominated by the
    # people who never get a task, so the load term is concave and nearly flat after the
    # first task (0.35 x recent_load^0.25: 0, 0.35, 0.42, 0.46 ...), and the demand term
    # (below) steers work away from volunteers who are wanted by many slots and will be
    # asked again anyway. Together: Gini 0.6998 at +9.95 % travel (just inside the target);
    # a load term alone gives ~0.706 at +10 % whatever its shape. Every other non-distance
    # point buys travel, so surplus and the type bonus are off and continuity only breaks
    # near-ties. Organisations may change any of them (MATCHING_WEIGHTS).
    skill_surplus: float = 0.0  # per level above the required minimum
    load: float = 0.35  # times recent_load ** load_exponent
    continuity: float = 0.25  # bonus if the volunteer served this beneficiary
    preference: float = 0.0  # bonus if the need type is among the preferred ones
    # < 1 makes the load term concave: the first task in the window costs the most
    # extra, so work spreads to people who had none; > 1 makes it convex (the busiest
    # are relieved first).
    load_exponent: float = 0.25
    # per declared preference (need types, weekdays, day parts, beneficiary
    # categories) that the slot misses; volunteers without preferences pay nothing.
    preference_miss: float = 0.1
    # times sqrt(relative demand): how many of this solve's slots hold the volunteer
    # among their candidates, over the average volunteer's count. Someone many slots
    # want now is likely to be asked again soon; a near-equal candidate few slots can
    # use takes the task instead. A solve of one slot gives everyone the same demand.
    demand: float = 0.1

    def __post_init__(self) -> None:
        for name in ("distance", "skill_surplus", "load", "continuity", "preference", "preference_miss", "demand"):
            if getattr(self, name) < 0:
                raise ValueError(f"weight {name} must be >= 0")
        if not 0.0 < self.load_exponent <= 4.0:
            raise ValueError("load_exponent must be within (0, 4]")

    def load_points(self, load: int) -> float:
        return self.load * float(load) ** self.load_exponent


@dataclass(frozen=True)
class Explanation:
    relation: Relation
    distance_km: float
    skills_matched: Mapping[str, tuple[int, int]]  # code -> (volunteer level, required)
    recent_load: int
    continuity: bool
    preference_hit: bool
    preference_misses: tuple[str, ...] = ()  # PREFERENCE_KINDS the slot does not match


@dataclass(frozen=True)
class Pairing:
    slot_id: int
    volunteer_id: int
    cost: int
    explanation: Explanation


UnfilledReason = Literal[
    "no_volunteers",
    "none_within_distance",
    "none_active",
    "missing_skill",
    "missing_certification",
    "gender_mismatch",
    "adults_only",
    "background_check",
    "not_available_weekly",
    "unavailable_that_day",
    "busy",
    "candidates_taken",
]


@dataclass(frozen=True)
class Unfilled:
    slot_id: int
    reason: UnfilledReason
    detail: str = ""


@dataclass(frozen=True)
class MatchStats:
    slots: int
    volunteers: int
    candidate_edges: int
    filled: int
    filled_by_priority: Mapping[str, int]
    total_cost: int
    total_distance_km: float
    candidate_seconds: float
    solve_seconds: float


@dataclass(frozen=True)
class MatchResult:
    pairings: list[Pairing]
    unfilled: list[Unfilled]
    stats: MatchStats


# ---------------------------------------------------------------------------
# Shared conventions, used identically by the scalar rules below and by the
# vectorised candidate builder (candidates.py), so both give the same answers.
# ---------------------------------------------------------------------------

EARTH_RADIUS_KM = 6371.0088
MINUTES_PER_DAY = 24 * 60
ADULT_AGE = 18
# Monday, so that (minute // MINUTES_PER_DAY) % 7 is the weekday.
TIME_EPOCH = datetime(2000, 1, 3)

# Distance charged when a side lacks coordinates (documented in docs/BENCHMARKS-matching.md).
HIERARCHY_DISTANCE_KM: Mapping[str, float] = MappingProxyType(
    {"same_grid": 0.5, "same_community": 1.5, "same_street": 3.0, "farther": 10.0}
)
# Without coordinates "same street" is only accepted when the slot tolerates at
# least this much travel; "farther" is never accepted, since nothing bounds it.
STREET_FALLBACK_MIN_KM = 3.0

# Day parts by the slot's start (minutes of day): before noon, before 18:00, later.
DAY_PARTS: tuple[str, ...] = ("morning", "afternoon", "evening")
DAY_PART_STARTS: tuple[int, ...] = (0, 12 * 60, 18 * 60)
PREFERENCE_KINDS: tuple[str, ...] = ("need_type", "weekday", "day_part", "category")

COST_POINTS_SCALE = 100  # integer cost unit = 1/100 point (10 m of travel)


def minutes_floor(moment: datetime) -> int:
    """Minutes since TIME_EPOCH, rounded down (interval starts round outward)."""
    delta = moment - TIME_EPOCH
    return (delta.days * 86400 + delta.seconds) // 60


def minutes_ceil(moment: datetime) -> int:
    """Minutes since TIME_EPOCH, rounded up (interval ends round outward)."""
    delta = moment - TIME_EPOCH
    seconds = delta.days * 86400 + delta.seconds + (1 if delta.microseconds else 0)
    return -((-seconds) // 60)


def day_ordinal(day_index: int) -> int:
    return TIME_EPOCH.toordinal() + day_index


def day_segments(start_minute: int, end_minute: int) -> list[tuple[int, int, int]]:
    """Split [start, end) into (day_index, start_min_of_day, end_min_of_day) pieces."""
    segments = []
    first_day = start_minute // MINUTES_PER_DAY
    last_day = (end_minute - 1) // MINUTES_PER_DAY
    for day in range(first_day, last_day + 1):
        day_start = day * MINUTES_PER_DAY
        lo = max(start_minute, day_start) - day_start
        hi = min(end_minute, day_start + MINUTES_PER_DAY) - day_start
        segments.append((day, lo, hi))
    return segments


def slot_segments(slot: Slot) -> list[tuple[int, int, int]]:
    return day_segments(minutes_floor(slot.start), minutes_ceil(slot.end))


def slot_last_date(slot: Slot) -> date:
    """Certifications must stay valid until the last day the slot touches."""
    return date.fromordinal(day_ordinal(slot_segments(slot)[-1][0]))


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dlat, dlon = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dlat / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def _same(a: int | None, b: int | None) -> bool:
    return a is not None and a == b


def hierarchy_relation(slot: Slot, volunteer: Volunteer) -> Relation:
    if _same(slot.grid_id, volunteer.grid_id):
        return "same_grid"
    if _same(slot.community_id, volunteer.community_id):
        return "same_community"
    if _same(slot.street_id, volunteer.street_id):
        return "same_street"
    return "farther"


def relation_and_distance(slot: Slot, volunteer: Volunteer) -> tuple[Relation, float]:
    if slot.lat is not None and slot.lon is not None and volunteer.lat is not None and volunteer.lon is not None:
        return "coordinates", haversine_km(slot.lat, slot.lon, volunteer.lat, volunteer.lon)
    relation = hierarchy_relation(slot, volunteer)
    return relation, HIERARCHY_DISTANCE_KM[relation]


# ---------------------------------------------------------------------------
# Feasibility rules: one function per rule, scalar reference implementation.
# ---------------------------------------------------------------------------


def is_active(slot: Slot, volunteer: Volunteer) -> bool:
    return volunteer.active


def has_required_skills(slot: Slot, volunteer: Volunteer) -> bool:
    return all(volunteer.skills.get(code, 0) >= level for code, level in slot.required_skills.items())


def has_valid_certifications(slot: Slot, volunteer: Volunteer) -> bool:
    last_day = slot_last_date(slot)
    for code in slot.required_certifications:
        if code not in volunteer.certifications:
            return False
        expiry = volunteer.certifications[code]
        if expiry is not None and expiry < last_day:
            return False
    return True


def matches_gender(slot: Slot, volunteer: Volunteer) -> bool:
    return slot.same_gender is None or volunteer.gender == slot.same_gender


def meets_age(slot: Slot, volunteer: Volunteer) -> bool:
    return not slot.adults_only or volunteer.age >= ADULT_AGE


def meets_background_check(slot: Slot, volunteer: Volunteer) -> bool:
    return not slot.needs_background_check or volunteer.background_checked


def merged_weekly_windows(windows: tuple[WeeklyWindow, ...]) -> list[tuple[int, int, int]]:
    """(weekday, start, end) with overlapping or touching windows of a day merged."""
    merged: list[tuple[int, int, int]] = []
    for w in sorted(windows, key=lambda w: (w.weekday, w.start_minute, w.end_minute)):
        if merged and merged[-1][0] == w.weekday and w.start_minute <= merged[-1][2]:
            day, start, end = merged[-1]
            merged[-1] = (day, start, max(end, w.end_minute))
        else:
            merged.append((w.weekday, w.start_minute, w.end_minute))
    return merged


def weekly_availability_covers(slot: Slot, volunteer: Volunteer) -> bool:
    """Every day-piece of the slot lies inside one (merged) weekly window."""
    windows = merged_weekly_windows(volunteer.availability)
    for day, lo, hi in slot_segments(slot):
        weekday = day % 7
        if not any(d == weekday and s <= lo and hi <= e for d, s, e in windows):
            return False
    return True


def not_excepted_that_day(slot: Slot, volunteer: Volunteer) -> bool:
    days = {date.fromordinal(day_ordinal(day)) for day, _, _ in slot_segments(slot)}
    return not (days & volunteer.unavailable_dates)


def is_free(slot: Slot, volunteer: Volunteer) -> bool:
    start, end = minutes_floor(slot.start), minutes_ceil(slot.end)
    return all(
        not (minutes_floor(b_start) < end and start < minutes_ceil(b_end)) for b_start, b_end in volunteer.busy
    )


def within_distance(slot: Slot, volunteer: Volunteer) -> bool:
    relation, km = relation_and_distance(slot, volunteer)
    if volunteer.max_travel_km is not None and km > volunteer.max_travel_km:
        return False
    limit = slot.max_distance_km
    if relation == "coordinates":
        return limit is None or km <= limit
    if relation in ("same_grid", "same_community"):
        return True
    if relation == "same_street":
        return limit is None or limit >= STREET_FALLBACK_MIN_KM
    return False


def __getattr__(name: str) -> object:
    # The rules are declared once, with their vectorised masks, in rules.py.
    if name == "FEASIBILITY_RULES":
        from .rules import FEASIBILITY_RULES

        return FEASIBILITY_RULES
    raise AttributeError(name)


def is_feasible(slot: Slot, volunteer: Volunteer) -> bool:
    from .rules import RULES

    return all(rule.check(slot, volunteer) for rule in RULES)


def skill_surplus(slot: Slot, volunteer: Volunteer) -> int:
    return sum(volunteer.skills.get(code, 0) - level for code, level in slot.required_skills.items())


def day_part(minute_of_day: int) -> str:
    return DAY_PARTS[sum(minute_of_day >= start for start in DAY_PART_STARTS) - 1]


def preference_misses(slot: Slot, volunteer: Volunteer) -> tuple[str, ...]:
    """Declared preferences of the volunteer that the slot does not match."""
    start = minutes_floor(slot.start)
    checks = (
        ("need_type", volunteer.preferred_need_types, slot.need_type),
        ("weekday", volunteer.preferred_weekdays, (start // MINUTES_PER_DAY) % 7),
        ("day_part", volunteer.preferred_day_parts, day_part(start % MINUTES_PER_DAY)),
        ("category", volunteer.preferred_categories, slot.beneficiary_category),
    )
    return tuple(kind for kind, wanted, value in checks if wanted and value not in wanted)


def cost_points(
    weights: Weights,
    distance_km: float,
    surplus: int,
    load: int,
    continuity: bool,
    preference: bool,
    misses: int = 0,
) -> float:
    """Cost in points; shifted by the maximal bonuses so it is never negative."""
    return (
        weights.distance * distance_km
        + weights.skill_surplus * surplus
        + weights.load_points(load)
        + weights.continuity * (0.0 if continuity else 1.0)
        + weights.preference * (0.0 if preference else 1.0)
        + weights.preference_miss * misses
    )


def to_cost_units(points: float) -> int:
    # +1 keeps every real edge strictly positive: sparse matrices drop zeros.
    return int(round(points * COST_POINTS_SCALE)) + 1


def demand_units(weights: Weights, relative_demand: float) -> int:
    """Integer cost of the demand term (added after rounding the other points)."""
    return int(round(weights.demand * math.sqrt(relative_demand) * COST_POINTS_SCALE))


def relative_demands(slots: Sequence[Slot], volunteers: Sequence[Volunteer]) -> dict[int, float]:
    """Scalar reference of the demand term's input, by volunteer id: feasible slots
    of the volunteer over the mean among volunteers with any (equal to the engine's
    when every feasible pair is a candidate, i.e. at most max_candidates per slot)."""
    counts = {v.id: sum(is_feasible(s, v) for s in slots) for v in volunteers}
    wanted = [c for c in counts.values() if c]
    mean = sum(wanted) / len(wanted) if wanted else 1.0
    return {vid: c / mean for vid, c in counts.items()}


def pair_cost(slot: Slot, volunteer: Volunteer, weights: Weights, relative_demand: float = 1.0) -> int:
    """Scalar reference of the cost the vectorised builder computes. A pair priced
    on its own (a manual assignment) counts as average demand."""
    _, km = relation_and_distance(slot, volunteer)
    continuity = slot.beneficiary_id is not None and slot.beneficiary_id in volunteer.served_beneficiaries
    preference = slot.need_type in volunteer.preferred_need_types
    misses = len(preference_misses(slot, volunteer))
    points = cost_points(
        weights, km, skill_surplus(slot, volunteer), volunteer.recent_load, continuity, preference, misses
    )
    return to_cost_units(points) + demand_units(weights, relative_demand)
