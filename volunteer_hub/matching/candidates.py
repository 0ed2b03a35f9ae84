"""Columnar tables and the sparse candidate graph (slot x volunteer edges).

The scalar rules in domain.py are the reference; this module applies the same
rules to arrays of (slot, volunteer) pairs so that 20k x 1M stays fast.
Pairs come from a cKDTree on unit-sphere coordinates (k nearest within the
slot's travel limit) plus a hierarchy lookup (grid / community / street) for
whoever lacks coordinates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from .domain import (
    ADULT_AGE,
    COST_POINTS_SCALE,
    EARTH_RADIUS_KM,
    HIERARCHY_DISTANCE_KM,
    MINUTES_PER_DAY,
    DAY_PART_STARTS,
    DAY_PARTS,
    PREFERENCE_KINDS,
    PRIORITY_RANK,
    STREET_FALLBACK_MIN_KM,
    TIME_EPOCH,
    Slot,
    UnfilledReason,
    Volunteer,
    Weights,
    merged_weekly_windows,
    minutes_ceil,
    minutes_floor,
    day_segments,
)

IntArray = npt.NDArray[np.int64]
I32Array = npt.NDArray[np.int32]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

MISSING_ID = -1
NO_EXPIRY = np.iinfo(np.int32).max
KEY_SHIFT = np.int64(1) << np.int64(32)  # volunteer index in the high bits of lookup keys
RELATIONS = ("coordinates", "same_grid", "same_community", "same_street", "farther")
NO_REASON = -1
REASON_NO_PAIRS = -2  # nobody even in range / sharing the hierarchy
DEFAULT_MAX_CANDIDATES = 50
OVERSAMPLE = 2  # neighbours fetched per wanted candidate before filtering
MAX_EXPANSIONS = 2  # times a slot short of candidates re-queries with 4x more neighbours
MAX_SHAPE_TREES = 12  # availability-shape trees per requirement group (see _shape_buckets)
MIN_SHAPE_SHARE = 0.02  # a shape held by fewer windows shares the "rare shapes" tree
MIN_SPLIT_MEMBERS = 20_000  # smaller groups keep one tree: more trees cost more than they save


def _opt_id(value: int | None) -> int:
    return MISSING_ID if value is None else value


def _vocabulary(codes: Iterable[str]) -> dict[str, int]:
    return {code: i for i, code in enumerate(sorted(set(codes)))}


def unit_vectors(lat: FloatArray, lon: FloatArray) -> FloatArray:
    phi, lam = np.radians(lat), np.radians(lon)
    cos_phi = np.cos(phi)
    return np.column_stack((cos_phi * np.cos(lam), cos_phi * np.sin(lam), np.sin(phi)))


def haversine_km_arrays(lat1: FloatArray, lon1: FloatArray, lat2: FloatArray, lon2: FloatArray) -> FloatArray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlat, dlon = p2 - p1, np.radians(lon2 - lon1)
    a = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    result: FloatArray = 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(a)))
    return result


def chord_for_km(km: float) -> float:
    """Euclidean distance between unit vectors that are km apart on the sphere."""
    if not np.isfinite(km):
        return float("inf")
    # Tiny slack so float error never drops a pair the haversine test would accept.
    return float(2 * np.sin(min(km / EARTH_RADIUS_KM, np.pi) / 2)) * (1 + 1e-9) + 1e-12


def _sorted_membership(keys: IntArray, queries: IntArray) -> BoolArray:
    if len(keys) == 0:
        return np.zeros(len(queries), dtype=bool)
    idx = np.searchsorted(keys, queries)
    idx_clipped = np.minimum(idx, len(keys) - 1)
    found: BoolArray = (idx < len(keys)) & (keys[idx_clipped] == queries)
    return found


@dataclass(frozen=True)
class Vocabulary:
    skills: Mapping[str, int]
    certifications: Mapping[str, int]
    genders: Mapping[str, int]
    need_types: Mapping[str, int]
    categories: Mapping[str, int] = field(default_factory=dict)  # preferred beneficiary categories


@dataclass(frozen=True)
class VolunteerTable:
    """Volunteers as columns, sorted by id. Lookup tables are sorted int64 keys.

    avail_keys = (index * 7 + weekday) * 1441 + start_minute, with avail_ends
    parallel: windows of one (volunteer, weekday) merged and sorted.
    busy_keys = index << 32 | start minute since TIME_EPOCH, busy_ends parallel,
    intervals of one volunteer merged and sorted.
    """

    ids: IntArray
    lat: FloatArray  # NaN when unknown
    lon: FloatArray
    grid: IntArray  # MISSING_ID when unknown
    community: IntArray
    street: IntArray
    gender: IntArray
    age: IntArray
    active: BoolArray
    background_checked: BoolArray
    skill_levels: npt.NDArray[np.uint8]  # (n, n_skills)
    cert_expiry: npt.NDArray[np.int32]  # (n, n_certs) date ordinal, 0 = not held
    avail_keys: IntArray
    avail_ends: IntArray
    unavailable_keys: IntArray  # index << 32 | date ordinal
    busy_keys: IntArray
    busy_ends: IntArray
    recent_load: IntArray
    served_keys: IntArray  # index << 32 | beneficiary id
    preference_keys: IntArray  # index << 32 | need type code
    vocabulary: Vocabulary
    # Optional columns (None = nobody declared any): the volunteer's own travel
    # limit (inf = none), weekday and day-part preference bits (0 = none) and
    # preferred beneficiary categories (index << 32 | category code).
    max_km: FloatArray | None = None
    preferred_weekdays: npt.NDArray[np.uint8] | None = None
    preferred_day_parts: npt.NDArray[np.uint8] | None = None
    category_keys: IntArray | None = None

    def __len__(self) -> int:
        return len(self.ids)

    @cached_property
    def has_coordinates(self) -> BoolArray:
        result: BoolArray = ~(np.isnan(self.lat) | np.isnan(self.lon))
        return result

    @cached_property
    def unit_points(self) -> FloatArray:
        """Unit-sphere vectors of every volunteer (NaN without coordinates)."""
        return unit_vectors(self.lat, self.lon)

    @cached_property
    def avail_offsets(self) -> IntArray:
        """Start of each (volunteer, weekday) group in avail_keys: direct indexing
        instead of a binary search over millions of windows."""
        groups = self.avail_keys // (MINUTES_PER_DAY + 1)
        counts = np.bincount(groups, minlength=len(self.ids) * 7)
        result: IntArray = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        return result

    @cached_property
    def has_exceptions(self) -> BoolArray:
        return _keyed(self.unavailable_keys, len(self.ids))

    @cached_property
    def has_served(self) -> BoolArray:
        return _keyed(self.served_keys, len(self.ids))

    @cached_property
    def has_preferences(self) -> BoolArray:
        return _keyed(self.preference_keys, len(self.ids))

    @cached_property
    def has_category_preferences(self) -> BoolArray:
        return _keyed(self.category_keys if self.category_keys is not None else _NO_KEYS, len(self.ids))

    @cached_property
    def window_shapes(self) -> tuple[IntArray, npt.NDArray[np.uint32]]:
        """(common shapes, bits per volunteer). A shape is start * 1441 + end of a
        merged weekly window; bit i marks shape i, the bit after the last one
        marks any rarer shape (at most MAX_SHAPE_TREES common shapes)."""
        stride = MINUTES_PER_DAY + 1
        window_vol = self.avail_keys // (7 * stride)
        shape = (self.avail_keys % stride) * stride + self.avail_ends
        codes, inverse, counts = np.unique(shape, return_inverse=True, return_counts=True)
        by_size = np.lexsort((codes, -counts))[:MAX_SHAPE_TREES]
        common = np.sort(by_size[counts[by_size] >= MIN_SHAPE_SHARE * len(shape)])
        bit_of_code = np.full(len(codes), len(common), dtype=np.uint32)
        bit_of_code[common] = np.arange(len(common), dtype=np.uint32)
        bits = np.zeros(len(self.ids), dtype=np.uint32)
        window_bit = np.left_shift(np.uint32(1), bit_of_code[inverse.reshape(-1)])
        # Most volunteers keep one shape all week: OR the bits per volunteer via
        # a sort-free reduction over the (volunteer-ordered) windows.
        np.bitwise_or.at(bits, window_vol, window_bit)
        return codes[common].astype(np.int64), bits

    @cached_property
    def busy_offsets(self) -> IntArray:
        counts = np.bincount(self.busy_keys // KEY_SHIFT, minlength=len(self.ids))
        result: IntArray = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        return result

    @staticmethod
    def from_volunteers(volunteers: Sequence[Volunteer], vocabulary: Vocabulary) -> VolunteerTable:
        ordered = sorted(volunteers, key=lambda v: v.id)
        n = len(ordered)
        skills = np.zeros((n, len(vocabulary.skills)), dtype=np.uint8)
        certs = np.zeros((n, len(vocabulary.certifications)), dtype=np.int32)
        avail: list[tuple[int, int]] = []
        unavailable: list[int] = []
        busy: list[tuple[int, int]] = []
        served: list[int] = []
        preferences: list[int] = []
        categories: list[int] = []
        for i, v in enumerate(ordered):
            for code, level in v.skills.items():
                skills[i, vocabulary.skills[code]] = level
            for code, expiry in v.certifications.items():
                certs[i, vocabulary.certifications[code]] = NO_EXPIRY if expiry is None else expiry.toordinal()
            for weekday, start, end in merged_weekly_windows(v.availability):
                avail.append(((i * 7 + weekday) * (MINUTES_PER_DAY + 1) + start, end))
            unavailable.extend(i * int(KEY_SHIFT) + d.toordinal() for d in v.unavailable_dates)
            busy.extend((i * int(KEY_SHIFT) + s, e) for s, e in _merged_busy(v))
            served.extend(i * int(KEY_SHIFT) + b for b in v.served_beneficiaries)
            preferences.extend(
                i * int(KEY_SHIFT) + vocabulary.need_types[t] for t in v.preferred_need_types if t in vocabulary.need_types
            )
            categories.extend(i * int(KEY_SHIFT) + vocabulary.categories[c] for c in v.preferred_categories)
        avail.sort()
        busy.sort()

        def ints(values: Iterable[int]) -> IntArray:
            return np.fromiter(values, dtype=np.int64)

        def coord(value: float | None) -> float:
            return float("nan") if value is None else value

        return VolunteerTable(
            ids=ints(v.id for v in ordered),
            lat=np.array([coord(v.lat if v.has_coordinates else None) for v in ordered], dtype=np.float64),
            lon=np.array([coord(v.lon if v.has_coordinates else None) for v in ordered], dtype=np.float64),
            grid=ints(_opt_id(v.grid_id) for v in ordered),
            community=ints(_opt_id(v.community_id) for v in ordered),
            street=ints(_opt_id(v.street_id) for v in ordered),
            gender=ints(vocabulary.genders[v.gender] for v in ordered),
            age=ints(v.age for v in ordered),
            active=np.array([v.active for v in ordered], dtype=bool),
            background_checked=np.array([v.background_checked for v in ordered], dtype=bool),
            skill_levels=skills,
            cert_expiry=certs,
            avail_keys=ints(k for k, _ in avail),
            avail_ends=ints(e for _, e in avail),
            unavailable_keys=np.sort(ints(unavailable)),
            busy_keys=ints(k for k, _ in busy),
            busy_ends=ints(e for _, e in busy),
            recent_load=ints(v.recent_load for v in ordered),
            served_keys=np.sort(ints(served)),
            preference_keys=np.sort(ints(preferences)),
            vocabulary=vocabulary,
            max_km=np.array([np.inf if v.max_travel_km is None else v.max_travel_km for v in ordered], dtype=np.float64),
            preferred_weekdays=np.array([_bits(v.preferred_weekdays) for v in ordered], dtype=np.uint8),
            preferred_day_parts=np.array(
                [_bits(DAY_PARTS.index(p) for p in v.preferred_day_parts) for v in ordered], dtype=np.uint8
            ),
            category_keys=np.sort(ints(categories)),
        )


_NO_KEYS: IntArray = np.empty(0, dtype=np.int64)


def _bits(positions: Iterable[int]) -> int:
    return sum(1 << p for p in set(positions))


def _merged_busy(volunteer: Volunteer) -> list[tuple[int, int]]:
    intervals = sorted((minutes_floor(s), minutes_ceil(e)) for s, e in volunteer.busy)
    merged: list[tuple[int, int]] = []
    for start, end in intervals:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


@dataclass(frozen=True)
class SlotTable:
    """Slots as columns, sorted by id. Requirements unknown to the vocabulary
    (a skill nobody has) are flagged so that every pair fails that rule."""

    ids: IntArray
    lat: FloatArray
    lon: FloatArray
    grid: IntArray
    community: IntArray
    street: IntArray
    max_km: FloatArray  # inf when unlimited
    rank: IntArray  # PRIORITY_RANK
    start_minute: IntArray
    end_minute: IntArray
    seg_weekday: IntArray  # (n, n_segments) day pieces of the slot
    seg_start: IntArray
    seg_end: IntArray
    seg_day_ordinal: IntArray
    seg_valid: BoolArray
    last_day_ordinal: IntArray
    required_skills: npt.NDArray[np.uint8]  # (n, n_skills) minimum level, 0 = not required
    unknown_skill: BoolArray
    required_certs: npt.NDArray[np.bool_]  # (n, n_certs)
    unknown_cert: BoolArray
    gender: IntArray  # -1 = any; -2 = a gender no volunteer has
    adults_only: BoolArray
    needs_background_check: BoolArray
    beneficiary: IntArray
    need_type: IntArray  # -1 when no volunteer prefers this type
    category: IntArray | None = None  # beneficiary category code, -1 when nobody prefers it

    def __len__(self) -> int:
        return len(self.ids)

    @cached_property
    def has_coordinates(self) -> BoolArray:
        result: BoolArray = ~(np.isnan(self.lat) | np.isnan(self.lon))
        return result

    @staticmethod
    def from_slots(slots: Sequence[Slot], vocabulary: Vocabulary) -> SlotTable:
        ordered = sorted(slots, key=lambda s: s.id)
        n = len(ordered)
        starts = np.array([minutes_floor(s.start) for s in ordered], dtype=np.int64)
        ends = np.array([minutes_ceil(s.end) for s in ordered], dtype=np.int64)
        required_skills = np.zeros((n, len(vocabulary.skills)), dtype=np.uint8)
        unknown_skill = np.zeros(n, dtype=bool)
        required_certs = np.zeros((n, len(vocabulary.certifications)), dtype=bool)
        unknown_cert = np.zeros(n, dtype=bool)
        for i, s in enumerate(ordered):
            for code, level in s.required_skills.items():
                if code in vocabulary.skills:
                    required_skills[i, vocabulary.skills[code]] = level
                elif level > 0:
                    unknown_skill[i] = True
            for code in s.required_certifications:
                if code in vocabulary.certifications:
                    required_certs[i, vocabulary.certifications[code]] = True
                else:
                    unknown_cert[i] = True

        def gender_code(slot: Slot) -> int:
            if slot.same_gender is None:
                return -1
            return vocabulary.genders.get(slot.same_gender, -2)

        def ints(values: Iterable[int]) -> IntArray:
            return np.fromiter(values, dtype=np.int64, count=n)

        def coord(slot: Slot, value: float | None) -> float:
            return float("nan") if value is None or not slot.has_coordinates else value

        return SlotTable.from_arrays(
            ids=ints(s.id for s in ordered),
            lat=np.array([coord(s, s.lat) for s in ordered], dtype=np.float64),
            lon=np.array([coord(s, s.lon) for s in ordered], dtype=np.float64),
            grid=ints(_opt_id(s.grid_id) for s in ordered),
            community=ints(_opt_id(s.community_id) for s in ordered),
            street=ints(_opt_id(s.street_id) for s in ordered),
            max_km=np.array(
                [np.inf if s.max_distance_km is None else s.max_distance_km for s in ordered], dtype=np.float64
            ),
            rank=ints(PRIORITY_RANK[s.priority] for s in ordered),
            start_minute=starts,
            end_minute=ends,
            required_skills=required_skills,
            unknown_skill=unknown_skill,
            required_certs=required_certs,
            unknown_cert=unknown_cert,
            gender=ints(gender_code(s) for s in ordered),
            adults_only=np.array([s.adults_only for s in ordered], dtype=bool),
            needs_background_check=np.array([s.needs_background_check for s in ordered], dtype=bool),
            beneficiary=ints(_opt_id(s.beneficiary_id) for s in ordered),
            need_type=ints(vocabulary.need_types.get(s.need_type, -1) for s in ordered),
            category=ints(
                -1 if s.beneficiary_category is None else vocabulary.categories.get(s.beneficiary_category, -1)
                for s in ordered
            ),
        )

    @staticmethod
    def from_arrays(
        *,
        ids: IntArray,
        lat: FloatArray,
        lon: FloatArray,
        grid: IntArray,
        community: IntArray,
        street: IntArray,
        max_km: FloatArray,
        rank: IntArray,
        start_minute: IntArray,
        end_minute: IntArray,
        required_skills: npt.NDArray[np.uint8],
        unknown_skill: BoolArray,
        required_certs: npt.NDArray[np.bool_],
        unknown_cert: BoolArray,
        gender: IntArray,
        adults_only: BoolArray,
        needs_background_check: BoolArray,
        beneficiary: IntArray,
        need_type: IntArray,
        category: IntArray | None = None,
    ) -> SlotTable:
        """Build from columns already sorted by id; derives the day pieces."""
        segments = [day_segments(int(s), int(e)) for s, e in zip(start_minute, end_minute)]
        width = max((len(s) for s in segments), default=1)
        n = len(ids)
        seg = np.zeros((4, n, width), dtype=np.int64)
        valid = np.zeros((n, width), dtype=bool)
        for i, pieces in enumerate(segments):
            for j, (day, lo, hi) in enumerate(pieces):
                seg[:, i, j] = (day, lo, hi, TIME_EPOCH.toordinal() + day)
                valid[i, j] = True
        last_day = np.array([TIME_EPOCH.toordinal() + p[-1][0] for p in segments], dtype=np.int64)
        return SlotTable(
            ids=ids, lat=lat, lon=lon, grid=grid, community=community, street=street, max_km=max_km,
            rank=rank, start_minute=start_minute, end_minute=end_minute,
            seg_weekday=seg[0] % 7, seg_start=seg[1], seg_end=seg[2], seg_day_ordinal=seg[3], seg_valid=valid,
            last_day_ordinal=last_day, required_skills=required_skills, unknown_skill=unknown_skill,
            required_certs=required_certs, unknown_cert=unknown_cert, gender=gender, adults_only=adults_only,
            needs_background_check=needs_background_check, beneficiary=beneficiary, need_type=need_type,
            category=category,
        )  # fmt: skip


def vocabulary_for(slots: Sequence[Slot], volunteers: Sequence[Volunteer]) -> Vocabulary:
    return Vocabulary(
        skills=_vocabulary(code for v in volunteers for code in v.skills),
        certifications=_vocabulary(code for v in volunteers for code in v.certifications),
        genders=_vocabulary(v.gender for v in volunteers),
        need_types=_vocabulary(t for v in volunteers for t in v.preferred_need_types),
        categories=_vocabulary(c for v in volunteers for c in v.preferred_categories),
    )


# ---------------------------------------------------------------------------
# Vectorised rules over pairs (si, vi): index arrays into the two tables.
# ---------------------------------------------------------------------------


def relation_codes(slots: SlotTable, vols: VolunteerTable, si: IntArray, vi: IntArray) -> IntArray:
    def same(a: IntArray, b: IntArray) -> BoolArray:
        result: BoolArray = (a != MISSING_ID) & (a == b)
        return result

    both_coords = slots.has_coordinates[si] & vols.has_coordinates[vi]
    codes = np.full(len(si), RELATIONS.index("farther"), dtype=np.int64)
    codes[same(slots.street[si], vols.street[vi])] = RELATIONS.index("same_street")
    codes[same(slots.community[si], vols.community[vi])] = RELATIONS.index("same_community")
    codes[same(slots.grid[si], vols.grid[vi])] = RELATIONS.index("same_grid")
    codes[both_coords] = RELATIONS.index("coordinates")
    return codes


def pair_distances_km(slots: SlotTable, vols: VolunteerTable, si: IntArray, vi: IntArray, rel: IntArray) -> FloatArray:
    fallback = np.array([HIERARCHY_DISTANCE_KM.get(r, 0.0) for r in RELATIONS], dtype=np.float64)
    km = fallback[rel]
    coords = rel == 0
    km[coords] = haversine_km_arrays(slots.lat[si[coords]], slots.lon[si[coords]], vols.lat[vi[coords]], vols.lon[vi[coords]])
    return km


def within_distance_mask(
    slots: SlotTable, vols: VolunteerTable, si: IntArray, vi: IntArray, rel: IntArray, km: FloatArray
) -> BoolArray:
    limit = slots.max_km[si]
    ok = np.zeros(len(si), dtype=bool)
    ok[rel == 0] = km[rel == 0] <= limit[rel == 0]
    ok[(rel == 1) | (rel == 2)] = True
    street = rel == 3
    ok[street] = limit[street] >= STREET_FALLBACK_MIN_KM
    if vols.max_km is not None:
        ok &= km <= vols.max_km[vi]
    return ok


def skills_mask(slots: SlotTable, vols: VolunteerTable, si: IntArray, vi: IntArray) -> BoolArray:
    ok = ~slots.unknown_skill[si]
    for col in np.flatnonzero(slots.required_skills.any(axis=0)):
        ok &= vols.skill_levels[vi, col] >= slots.required_skills[si, col]
    return ok


def skill_surplus_array(slots: SlotTable, vols: VolunteerTable, si: IntArray, vi: IntArray) -> IntArray:
    surplus = np.zeros(len(si), dtype=np.int64)
    for col in np.flatnonzero(slots.required_skills.any(axis=0)):
        required = slots.required_skills[si, col].astype(np.int64)
        surplus += np.where(required > 0, vols.skill_levels[vi, col].astype(np.int64) - required, 0)
    return surplus


def certifications_mask(slots: SlotTable, vols: VolunteerTable, si: IntArray, vi: IntArray) -> BoolArray:
    ok = ~slots.unknown_cert[si]
    last_day = slots.last_day_ordinal[si]
    for col in np.flatnonzero(slots.required_certs.any(axis=0)):
        held = vols.cert_expiry[vi, col]
        ok &= ~slots.required_certs[si, col] | ((held != 0) & (held >= last_day))
    return ok


def gender_mask(slots: SlotTable, vols: VolunteerTable, si: IntArray, vi: IntArray) -> BoolArray:
    wanted = slots.gender[si]
    result: BoolArray = (wanted == -1) | (vols.gender[vi] == wanted)
    return result


def age_mask(slots: SlotTable, vols: VolunteerTable, si: IntArray, vi: IntArray) -> BoolArray:
    result: BoolArray = ~slots.adults_only[si] | (vols.age[vi] >= ADULT_AGE)
    return result


def background_mask(slots: SlotTable, vols: VolunteerTable, si: IntArray, vi: IntArray) -> BoolArray:
    result: BoolArray = ~slots.needs_background_check[si] | vols.background_checked[vi]
    return result


def weekly_availability_mask(slots: SlotTable, vols: VolunteerTable, si: IntArray, vi: IntArray) -> BoolArray:
    ok = np.ones(len(si), dtype=bool)
    keys, ends, offsets = vols.avail_keys, vols.avail_ends, vols.avail_offsets
    stride = MINUTES_PER_DAY + 1
    for j in range(slots.seg_valid.shape[1]):
        valid = slots.seg_valid[si, j]
        group = vi * 7 + slots.seg_weekday[si, j]
        first, stop = offsets[group], offsets[group + 1]
        lo, hi = slots.seg_start[si, j], slots.seg_end[si, j]
        # Windows of a group are merged and sorted: only the last one starting at
        # or before the piece can cover it. Most groups hold a single window.
        single = stop - first == 1
        safe = np.minimum(first, max(len(keys) - 1, 0))
        covered = np.zeros(len(si), dtype=bool)
        if len(keys):
            covered = single & (keys[safe] % stride <= lo) & (ends[safe] >= hi)
        several = np.flatnonzero(stop - first > 1)
        if len(several):
            idx = np.searchsorted(keys, group[several] * stride + lo[several], side="right") - 1
            covered[several] = (idx >= first[several]) & (ends[np.maximum(idx, 0)] >= hi[several])
        ok &= ~valid | covered
    return ok


def _keyed(keys: IntArray, n: int) -> BoolArray:
    """Per volunteer index: has at least one key (index << 32 | value)."""
    flags: BoolArray = np.zeros(n, dtype=bool)
    flags[keys // KEY_SHIFT] = True
    return flags


def _keyed_membership(keys: IntArray, flags: BoolArray, vi: IntArray, values: IntArray) -> BoolArray:
    """_sorted_membership of vi << 32 | values, searching only volunteers with keys."""
    found: BoolArray = np.zeros(len(vi), dtype=bool)
    some = np.flatnonzero(flags[vi])
    if len(some):
        found[some] = _sorted_membership(keys, vi[some] * KEY_SHIFT + values[some])
    return found


def exception_day_mask(slots: SlotTable, vols: VolunteerTable, si: IntArray, vi: IntArray) -> BoolArray:
    ok = np.ones(len(si), dtype=bool)
    for j in range(slots.seg_valid.shape[1]):
        excepted = _keyed_membership(vols.unavailable_keys, vols.has_exceptions, vi, slots.seg_day_ordinal[si, j])
        ok &= ~(slots.seg_valid[si, j] & excepted)
    return ok


def free_mask(slots: SlotTable, vols: VolunteerTable, si: IntArray, vi: IntArray) -> BoolArray:
    offsets = vols.busy_offsets
    ok = np.ones(len(si), dtype=bool)
    has_busy = np.flatnonzero(offsets[vi + 1] > offsets[vi])
    if len(has_busy) == 0:
        return ok
    v, s = vi[has_busy], si[has_busy]
    # Busy intervals are merged, so the last one starting before the slot ends has the latest end.
    idx = np.searchsorted(vols.busy_keys, v * KEY_SHIFT + slots.end_minute[s], side="left") - 1
    overlaps = (idx >= offsets[v]) & (vols.busy_ends[np.maximum(idx, 0)] > slots.start_minute[s])
    ok[has_busy] = ~overlaps
    return ok


def rule_masks(
    slots: SlotTable, vols: VolunteerTable, si: IntArray, vi: IntArray, rel: IntArray, km: FloatArray
) -> list[BoolArray]:
    """Masks in the order of rules.RULES (the order that names an empty slot's reason)."""
    return [rule.mask(slots, vols, si, vi, rel, km) for rule in RULES]


def preference_miss_bits(
    slots: SlotTable, vols: VolunteerTable, si: IntArray, vi: IntArray, type_hit: BoolArray
) -> IntArray:
    """Per pair, bit i set when the volunteer declared PREFERENCE_KINDS[i] and the slot misses it."""
    misses = np.where(vols.has_preferences[vi] & ~type_hit, 1, 0).astype(np.int64)
    start = slots.seg_start[si, 0]
    part = np.searchsorted(np.array(DAY_PART_STARTS), start, side="right") - 1
    for bit, (wanted, value) in enumerate(
        ((vols.preferred_weekdays, slots.seg_weekday[si, 0]), (vols.preferred_day_parts, part)), start=1
    ):
        if wanted is not None:
            declared = wanted[vi].astype(np.int64)
            missed = (declared != 0) & ((declared >> value) & 1 == 0)
            misses |= np.where(missed, 1 << bit, 0)
    if vols.category_keys is not None and slots.category is not None:
        category = slots.category[si]
        hit = (category >= 0) & _keyed_membership(vols.category_keys, vols.has_category_preferences, vi, category)
        misses |= np.where(vols.has_category_preferences[vi] & ~hit, 1 << 3, 0)
    return misses


def _popcount(bits: IntArray) -> IntArray:
    return sum((bits >> b) & 1 for b in range(len(PREFERENCE_KINDS)))  # type: ignore[return-value]


def pair_costs(
    slots: SlotTable, vols: VolunteerTable, weights: Weights, si: IntArray, vi: IntArray, km: FloatArray
) -> tuple[IntArray, BoolArray, BoolArray, IntArray]:
    """Integer costs (same formula and operation order as domain.pair_cost)."""
    beneficiary = slots.beneficiary[si]
    continuity = (beneficiary != MISSING_ID) & _keyed_membership(vols.served_keys, vols.has_served, vi, beneficiary)
    need_type = slots.need_type[si]
    preference = (need_type >= 0) & _keyed_membership(vols.preference_keys, vols.has_preferences, vi, need_type)
    misses = preference_miss_bits(slots, vols, si, vi, preference)
    points = (
        weights.distance * km
        + weights.skill_surplus * skill_surplus_array(slots, vols, si, vi)
        + weights.load * np.power(vols.recent_load[vi].astype(np.float64), weights.load_exponent)
        + weights.continuity * np.where(continuity, 0.0, 1.0)
        + weights.preference * np.where(preference, 0.0, 1.0)
        + weights.preference_miss * _popcount(misses)
    )
    cost = np.rint(points * COST_POINTS_SCALE).astype(np.int64) + 1
    return cost, continuity, preference, misses


# ---------------------------------------------------------------------------
# Pair generation
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CandidateGraph:
    """Feasible edges sorted by (slot, cost, volunteer); indices into the tables."""

    n_slots: int
    n_volunteers: int
    slot_idx: IntArray
    vol_idx: IntArray
    cost: IntArray
    distance_km: FloatArray
    relation: IntArray
    continuity: BoolArray
    preference: BoolArray
    slot_rank: IntArray  # PRIORITY_RANK per slot
    reason: IntArray  # per slot: index into REASONS, NO_REASON or REASON_NO_PAIRS
    preference_misses: IntArray | None = None  # per edge: bit i = PREFERENCE_KINDS[i] missed

    @property
    def n_edges(self) -> int:
        return len(self.slot_idx)


class _SpatialIndex:
    def __init__(self, vols: VolunteerTable, members: IntArray) -> None:
        self.members = members
        points = vols.unit_points[self.members]
        self.tree = cKDTree(points, balanced_tree=False, compact_nodes=False) if len(self.members) else None

    def nearest(self, points: FloatArray, k: int, max_km: float, skip: int = 0) -> tuple[IntArray, IntArray]:
        """(row, volunteer index) pairs: the (skip+1)-th..k-th nearest within max_km of each point."""
        k = min(k, len(self.members))
        if self.tree is None or len(points) == 0 or k <= skip:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        ranks = list(range(skip + 1, k + 1))
        _, nbr = self.tree.query(points, k=ranks, distance_upper_bound=chord_for_km(max_km), workers=-1)
        nbr = np.asarray(nbr).reshape(len(points), len(ranks))
        rows, cols = np.nonzero(nbr < len(self.members))
        return rows.astype(np.int64), self.members[nbr[rows, cols]]


def _hierarchy_pairs(
    slots: SlotTable, vols: VolunteerTable, slot_rows: IntArray, members: IntArray, limit: int
) -> tuple[IntArray, IntArray]:
    """Active members sharing the slot's grid, else community, else street (the
    last only where the travel limit allows it); at most limit per level."""
    members = members[vols.active[members]]
    si_parts, vi_parts = [], []
    closer: list[tuple[IntArray, IntArray]] = []  # (slot column, volunteer column) of finer levels
    levels = ((slots.grid, vols.grid), (slots.community, vols.community), (slots.street, vols.street))
    for level, (slot_col, vol_col) in enumerate(levels):
        rows = slot_rows
        if level == 2:
            rows = rows[slots.max_km[rows] >= STREET_FALLBACK_MIN_KM]
        if len(rows) == 0 or len(members) == 0:
            break
        order = np.lexsort((vols.ids[members], vol_col[members]))
        keys, sorted_members = vol_col[members][order], members[order]
        wanted = slot_col[rows]
        lo = np.searchsorted(keys, wanted, "left")
        counts = np.where(wanted == MISSING_ID, 0, np.searchsorted(keys, wanted, "right") - lo)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        si = np.repeat(rows, counts)
        vi = sorted_members[np.repeat(lo, counts) + offsets]
        # Pairs already related at a finer level belong to that level, not this one.
        fresh = np.ones(len(si), dtype=bool)
        for finer_slot, finer_vol in closer:
            fresh &= ~((finer_slot[si] != MISSING_ID) & (finer_slot[si] == finer_vol[vi]))
        si, vi = si[fresh], vi[fresh]
        rank = np.arange(len(si)) - np.searchsorted(si, si, "left")
        si_parts.append(si[rank < limit])
        vi_parts.append(vi[rank < limit])
        closer.append((slot_col, vol_col))
    if not si_parts:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(si_parts), np.concatenate(vi_parts)


def _spatial_pairs(
    slots: SlotTable, index: _SpatialIndex, slot_rows: IntArray, k: int, skip: int = 0
) -> tuple[IntArray, IntArray]:
    si_parts, vi_parts = [], []
    limits = slots.max_km[slot_rows]
    # One batched query per distinct travel limit (few: one per need type).
    for limit in np.unique(limits):
        rows = slot_rows[limits == limit]
        points = unit_vectors(slots.lat[rows], slots.lon[rows])
        r, v = index.nearest(points, k, float(limit), skip)
        si_parts.append(rows[r])
        vi_parts.append(v)
    if not si_parts:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(si_parts), np.concatenate(vi_parts)


@dataclass
class _Pairs:
    si: IntArray
    vi: IntArray
    feasible: BoolArray
    failed_rule: IntArray  # per pair: first failing rule index, len(rules) if feasible
    rel: IntArray
    km: FloatArray


def _evaluate(slots: SlotTable, vols: VolunteerTable, si: IntArray, vi: IntArray) -> _Pairs:
    rel = relation_codes(slots, vols, si, vi)
    km = pair_distances_km(slots, vols, si, vi, rel)
    masks = rule_masks(slots, vols, si, vi, rel, km)
    failed = np.full(len(si), len(masks), dtype=np.int64)
    for rule_index in range(len(masks) - 1, -1, -1):
        failed[~masks[rule_index]] = rule_index
    return _Pairs(si, vi, failed == len(masks), failed, rel, km)


_PAIR_FIELDS = ("si", "vi", "feasible", "failed_rule", "rel", "km")


def _concat(parts: Sequence[_Pairs]) -> _Pairs:
    return _Pairs(*(np.concatenate([getattr(p, f) for p in parts]) for f in _PAIR_FIELDS))


MAX_STATIC_GROUPS = 32


def static_requirement_groups(slots: SlotTable, rows: IntArray) -> IntArray:
    """Group label per row: slots sharing skills, certs, gender, age and check rules."""
    signature = np.column_stack(
        (
            slots.required_skills[rows].astype(np.int64),
            slots.required_certs[rows].astype(np.int64),
            slots.gender[rows],
            slots.adults_only[rows],
            slots.needs_background_check[rows],
            slots.unknown_skill[rows] | slots.unknown_cert[rows],
        )
    )
    if len(rows) == 0:
        return np.empty(0, np.int64)
    _, labels = np.unique(signature, axis=0, return_inverse=True)
    result: IntArray = labels.reshape(-1).astype(np.int64)
    return result


def static_qualified(slots: SlotTable, vols: VolunteerTable, row: int) -> BoolArray:
    """Volunteers passing the time-independent prefilters of slot `row` (rules.RULES)."""
    ok = np.ones(len(vols), dtype=bool)
    for prefilter in STATIC_PREFILTERS:
        ok &= prefilter(slots, vols, row)
    return ok


def feasible_subset(
    slots: SlotTable, vols: VolunteerTable, si: IntArray, vi: IntArray
) -> tuple[IntArray, IntArray, FloatArray]:
    """(positions of the feasible pairs, their relation codes, their km).

    Same rules as rule_masks (a pair is feasible iff every mask holds), applied one at a
    time on the shrinking set of survivors, in the rules' filter_rank order (the most
    selective first); the distance rule comes last: the kd-tree already bounds it, and
    the haversine is the costliest mask per pair.
    """
    idx, s, v = np.arange(len(si)), si, vi
    for rule in FAST_FILTER:
        if len(idx) == 0:
            break
        keep = rule.mask(slots, vols, s, v)
        idx, s, v = idx[keep], s[keep], v[keep]
    rel = relation_codes(slots, vols, s, v)
    km = pair_distances_km(slots, vols, s, v, rel)
    keep = np.ones(len(idx), dtype=bool)
    for rule in LAST_FILTER:
        keep &= rule.mask(slots, vols, s, v, rel, km)
    return idx[keep], rel[keep], km[keep]


class _Collector:
    """Feasible pairs of every batch, plus the raw pairs of slots that got no
    feasible pair in a batch (the only ones an unfilled reason may need)."""

    def __init__(self, slots: SlotTable, vols: VolunteerTable) -> None:
        self.slots, self.vols = slots, vols
        self.feasible: list[tuple[IntArray, IntArray, IntArray, FloatArray]] = []
        self.doubtful: list[tuple[IntArray, IntArray]] = []
        self.count = np.zeros(len(slots), dtype=np.int64)

    def add(self, si: IntArray, vi: IntArray) -> IntArray:
        """Evaluate one batch; returns feasible pairs per slot in this batch."""
        idx, rel, km = feasible_subset(self.slots, self.vols, si, vi)
        fs = si[idx]
        self.feasible.append((fs, vi[idx], rel, km))
        batch = np.bincount(fs, minlength=len(self.slots))
        self.count += batch
        none = batch[si] == 0
        if none.any():
            self.doubtful.append((si[none], vi[none]))
        return batch

    def feasible_pairs(self) -> tuple[IntArray, IntArray, IntArray, FloatArray]:
        if not self.feasible:
            return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64)
        si, vi, rel, km = (np.concatenate(col) for col in zip(*self.feasible))
        return si, vi, rel, km

    def hopeless_pairs(self, hopeless: BoolArray) -> _Pairs:
        """Every generated pair of the slots flagged hopeless, fully evaluated."""
        if not self.doubtful:
            return _evaluate(self.slots, self.vols, np.empty(0, np.int64), np.empty(0, np.int64))
        si = np.concatenate([d[0] for d in self.doubtful])
        vi = np.concatenate([d[1] for d in self.doubtful])
        keep = hopeless[si]
        return _evaluate(self.slots, self.vols, si[keep], vi[keep])


def _nearest_feasible(
    slots: SlotTable,
    buckets: Sequence[tuple[_SpatialIndex, IntArray, int]],
    max_candidates: int,
    collector: _Collector,
) -> None:
    """First the k nearest in every (index, rows, k) bucket, then, while a slot is
    still short of max_candidates feasible over all its buckets, 4x more
    neighbours from each bucket whose k all came back (at most MAX_EXPANSIONS)."""
    pending: list[tuple[_SpatialIndex, IntArray, int, int]] = []
    for index, rows, k in buckets:
        pending.append((index, rows, k, 0))
    for _ in range(MAX_EXPANSIONS + 1):
        fetched = []
        for index, rows, k, skip in pending:
            si, vi = _spatial_pairs(slots, index, rows, k, skip)
            collector.add(si, vi)
            returned = skip + np.bincount(si, minlength=len(slots))[rows]
            if k < len(index.members):
                # A slot whose k neighbours all came back may have more beyond them.
                fetched.append((index, rows[returned == k], k))
        pending = []
        for index, rows, k in fetched:
            short = rows[collector.count[rows] < max_candidates]
            if len(short):
                pending.append((index, short, k * 4, k))
        if not pending:
            break


# Volunteers are indexed by the shape of their weekly windows (start, end minute
# of day): a slot only queries the trees whose shape covers its first day-piece,
# so its nearest neighbours are mostly available at that time. Rare shapes share
# one "other shapes" tree that every slot queries.
def _shape_buckets(
    slots: SlotTable, vols: VolunteerTable, rows: IntArray, members: IntArray
) -> list[tuple[IntArray, IntArray]]:
    """(volunteer members, slot rows) per availability-shape tree; together a
    superset of every volunteer whose windows can cover each row's first piece."""
    if len(members) < MIN_SPLIT_MEMBERS:
        return [(members, rows)] if len(members) and len(rows) else []
    shapes, bits = vols.window_shapes
    member_bits = bits[members]
    lo, hi = slots.seg_start[rows, 0], slots.seg_end[rows, 0]
    stride = MINUTES_PER_DAY + 1
    buckets = []
    for bit, code in enumerate(shapes):
        start, end = divmod(int(code), stride)
        covered = rows[(start <= lo) & (hi <= end)]
        shape_members = members[(member_bits >> np.uint32(bit)) & np.uint32(1) == 1]
        if len(covered) and len(shape_members):
            buckets.append((shape_members, covered))
    rare_members = members[(member_bits >> np.uint32(len(shapes))) & np.uint32(1) == 1]
    if len(rare_members) and len(rows):
        buckets.append((rare_members, rows))
    return buckets


def _split_k(
    slots: SlotTable, vols: VolunteerTable, buckets: list[tuple[IntArray, IntArray]], max_candidates: int
) -> list[tuple[_SpatialIndex, IntArray, int]]:
    """A slot served by c shape trees asks each for 1/c of the neighbours it wants:
    the union is about as large as one query, and shortages widen later."""
    covering = np.zeros(len(slots), dtype=np.int64)
    for _, rows in buckets:
        covering[rows] += 1
    wanted = OVERSAMPLE * max_candidates
    result = []
    for members, rows in buckets:
        index = _SpatialIndex(vols, members)
        for c in np.unique(covering[rows]):
            result.append((index, rows[covering[rows] == c], -(-wanted // int(c))))
    return result


def _generate_pairs(slots: SlotTable, vols: VolunteerTable, max_candidates: int) -> _Collector:
    collector = _Collector(slots, vols)
    coord_slots = np.flatnonzero(slots.has_coordinates)
    plain_slots = np.flatnonzero(~slots.has_coordinates)
    coord_vols = np.flatnonzero(vols.has_coordinates)
    coordless_vols = np.flatnonzero(~vols.has_coordinates)
    hierarchy_limit = OVERSAMPLE * max_candidates
    collector.add(*_hierarchy_pairs(slots, vols, plain_slots, np.arange(len(vols)), hierarchy_limit))
    groups = static_requirement_groups(slots, coord_slots)
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    if n_groups <= MAX_STATIC_GROUPS:
        # One tree per requirement profile, over only the volunteers who could ever
        # qualify: the k nearest are then mostly feasible, so k stays small.
        has_coords = vols.has_coordinates
        for g in range(n_groups):
            rows = coord_slots[groups == g]
            qualified = static_qualified(slots, vols, int(rows[0]))
            members = np.flatnonzero(qualified & has_coords)
            buckets = _shape_buckets(slots, vols, rows, members)
            indexes = _split_k(slots, vols, buckets, max_candidates)
            _nearest_feasible(slots, indexes, max_candidates, collector)
            fallback = np.flatnonzero(qualified & ~has_coords)
            collector.add(*_hierarchy_pairs(slots, vols, rows, fallback, hierarchy_limit))
    else:
        collector.add(*_hierarchy_pairs(slots, vols, coord_slots, coordless_vols, hierarchy_limit))
        everyone = [(_SpatialIndex(vols, coord_vols), coord_slots, OVERSAMPLE * max_candidates)]
        _nearest_feasible(slots, everyone, max_candidates, collector)
    return collector


def _diagnostic_pairs(slots: SlotTable, vols: VolunteerTable, rows: IntArray, max_candidates: int) -> _Pairs:
    """Unfiltered nearest pairs of slots without any feasible candidate, to name why."""
    index = _SpatialIndex(vols, np.flatnonzero(vols.has_coordinates))
    coord_rows = rows[slots.has_coordinates[rows]]
    return _evaluate(slots, vols, *_spatial_pairs(slots, index, coord_rows, OVERSAMPLE * max_candidates))


def _unfilled_reasons(n_slots: int, pairs: _Pairs) -> IntArray:
    """Per slot, the rule that removed its last surviving pair (rules applied in order)."""
    reason = np.full(n_slots, REASON_NO_PAIRS, dtype=np.int64)
    if len(pairs.si):
        # The pair that survives longest names the most telling reason.
        best = np.full(n_slots, -1, dtype=np.int64)
        np.maximum.at(best, pairs.si, pairs.failed_rule)
        has_pairs = best >= 0
        reason[has_pairs] = np.where(best[has_pairs] == len(REASONS), NO_REASON, best[has_pairs])
    return reason


def _slot_cost_volunteer_order(si: IntArray, cost: IntArray, vi: IntArray, n_slots: int, n_vols: int) -> IntArray:
    """np.lexsort((vi, cost, si)), as one argsort of a packed key when it fits in 63 bits."""
    if len(si) == 0:
        return np.empty(0, np.int64)
    vol_bits = max(int(n_vols - 1).bit_length(), 1)
    cost_bits = max(int(cost.max()).bit_length(), 1)
    slot_bits = max(int(n_slots - 1).bit_length(), 1)
    if cost.min() < 0 or vol_bits + cost_bits + slot_bits > 63:
        result: IntArray = np.lexsort((vi, cost, si))
        return result
    key = (si << (cost_bits + vol_bits)) | (cost << vol_bits) | vi
    # Keys are unique unless a pair repeats, and repeated pairs are identical rows.
    return np.argsort(key, kind="stable")


def demand_costs(weights: Weights, vi: IntArray, n_vols: int) -> IntArray:
    """Per candidate edge, the demand term (same operation order as domain.demand_units).
    Demand counts the kept candidate lists, so the max_candidates cut is made on the
    other terms and the demand term only reorders and prices the kept edges."""
    demand = np.bincount(vi, minlength=n_vols)
    mean = len(vi) / int(np.count_nonzero(demand))
    units = np.rint(weights.demand * np.sqrt(demand[vi] / mean) * COST_POINTS_SCALE)
    result: IntArray = units.astype(np.int64)
    return result


def build_candidate_graph(
    slots: SlotTable, vols: VolunteerTable, weights: Weights, *, max_candidates: int = DEFAULT_MAX_CANDIDATES
) -> CandidateGraph:
    collector = _generate_pairs(slots, vols, max_candidates)
    reason = np.full(len(slots), NO_REASON, dtype=np.int64)
    hopeless = collector.count == 0
    if hopeless.any():
        # Same reasons as evaluating every pair: slots with a feasible pair have
        # none, the others take the rule that removed their last surviving pair.
        rows = np.flatnonzero(hopeless)
        diagnosis = _concat([collector.hopeless_pairs(hopeless), _diagnostic_pairs(slots, vols, rows, max_candidates)])
        reason[rows] = _unfilled_reasons(len(slots), diagnosis)[rows]
    si, vi, rel, km = collector.feasible_pairs()
    del collector
    cost, continuity, preference, misses = pair_costs(slots, vols, weights, si, vi, km)
    order = _slot_cost_volunteer_order(si, cost, vi, len(slots), len(vols))
    # A volunteer whose windows have several shapes can come from two trees:
    # the copies are identical rows, adjacent after the sort.
    sorted_vi = vi[order]
    sorted_si = si[order]
    repeated = np.zeros(len(order), dtype=bool)
    repeated[1:] = (sorted_si[1:] == sorted_si[:-1]) & (sorted_vi[1:] == sorted_vi[:-1])
    order = order[~repeated]
    sorted_si = si[order]
    # Keep the max_candidates cheapest per slot (ties: lowest volunteer id).
    rank_in_slot = np.arange(len(order)) - np.searchsorted(sorted_si, sorted_si, side="left")
    keep = order[rank_in_slot < max_candidates]
    kept_cost = cost[keep]
    if weights.demand > 0 and len(keep):
        kept_cost = kept_cost + demand_costs(weights, vi[keep], len(vols))
        reorder = _slot_cost_volunteer_order(si[keep], kept_cost, vi[keep], len(slots), len(vols))
        keep, kept_cost = keep[reorder], kept_cost[reorder]
    return CandidateGraph(
        n_slots=len(slots),
        n_volunteers=len(vols),
        slot_idx=si[keep],
        vol_idx=vi[keep],
        cost=kept_cost,
        distance_km=km[keep],
        relation=rel[keep],
        continuity=continuity[keep],
        preference=preference[keep],
        slot_rank=slots.rank.copy(),
        reason=reason,
        preference_misses=misses[keep],
    )


def reason_name(code: int) -> UnfilledReason:
    if code == REASON_NO_PAIRS:
        return "none_within_distance"
    if code == NO_REASON:
        return "candidates_taken"
    return REASONS[code]


# The registry declares each rule with the masks above, so it is imported last.
from .rules import FAST_FILTER, LAST_FILTER, REASONS, RULES, STATIC_PREFILTERS  # noqa: E402

__all__ = [
    "CandidateGraph",
    "SlotTable",
    "VolunteerTable",
    "Vocabulary",
    "build_candidate_graph",
    "vocabulary_for",
    "reason_name",
]
