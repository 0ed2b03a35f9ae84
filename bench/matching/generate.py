"""Fixed-seed synthetic city: clustered neighbourhoods around community centres.

Builds the engine's columnar tables directly (no per-volunteer Python objects),
which is also how the service layer should feed a 1M-volunteer city.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from volunteer_hub.matching import SlotTable, Vocabulary, VolunteerTable
from volunteer_hub.matching.candidates import KEY_SHIFT, NO_EXPIRY
from volunteer_hub.matching.domain import MINUTES_PER_DAY, TIME_EPOCH, minutes_floor

from datetime import datetime

SIZES = {"small": (500, 5_000), "medium": (5_000, 100_000), "large": (20_000, 1_000_000)}
SKILLS = ("first_aid", "cooking", "driving", "elder_care", "counselling", "repair", "translation", "childcare")
CERTS = ("cpr", "driver_license", "food_safety")
NEED_TYPES = ("visit", "meal", "ride", "rescue", "care")
# need type -> (travel limit km (inf = none), required skill, level, cert or "", share of slots)
NEED_RULES = {
    "visit": (2.0, "", 0, "", 0.35),
    "meal": (3.0, "cooking", 1, "food_safety", 0.25),
    "ride": (8.0, "driving", 2, "driver_license", 0.15),
    "rescue": (np.inf, "first_aid", 2, "cpr", 0.10),
    "care": (1.5, "elder_care", 1, "", 0.15),
}
SHIFTS = ((8 * 60, 12 * 60), (13 * 60, 18 * 60), (18 * 60, 22 * 60), (8 * 60, 20 * 60))
CITY_CENTRE = (31.23, 121.47)
CITY_RADIUS_KM = 25.0
WEEK_START = datetime(2024, 3, 4)  # Monday
KM_PER_DEG = 111.2

VOCABULARY = Vocabulary(
    skills={s: i for i, s in enumerate(SKILLS)},
    certifications={c: i for i, c in enumerate(CERTS)},
    genders={"female": 0, "male": 1},
    need_types={t: i for i, t in enumerate(NEED_TYPES)},
)


@dataclass(frozen=True)
class City:
    centre_lat: np.ndarray
    centre_lon: np.ndarray

    @property
    def n_communities(self) -> int:
        return len(self.centre_lat)


def make_city(n_volunteers: int, seed: int) -> City:
    rng = np.random.default_rng(seed)
    n = max(10, n_volunteers // 2_000)  # a community centre per ~2k volunteers
    r = CITY_RADIUS_KM * np.sqrt(rng.random(n))
    theta = rng.random(n) * 2 * np.pi
    lat = CITY_CENTRE[0] + r * np.sin(theta) / KM_PER_DEG
    lon = CITY_CENTRE[1] + r * np.cos(theta) / (KM_PER_DEG * np.cos(np.radians(CITY_CENTRE[0])))
    return City(lat, lon)


def _scatter(rng: np.random.Generator, city: City, community: np.ndarray, sigma_km: float) -> tuple[np.ndarray, np.ndarray]:
    lat = city.centre_lat[community] + rng.normal(0, sigma_km, len(community)) / KM_PER_DEG
    lon = city.centre_lon[community] + rng.normal(0, sigma_km, len(community)) / (KM_PER_DEG * 0.855)
    return lat, lon


def _hierarchy(rng: np.random.Generator, community: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    grid = community * 10 + rng.integers(0, 10, len(community))
    return grid.astype(np.int64), community.astype(np.int64), (community // 5).astype(np.int64)


def make_volunteers(city: City, n: int, seed: int) -> VolunteerTable:
    rng = np.random.default_rng(seed + 1)
    community = rng.integers(0, city.n_communities, n)
    lat, lon = _scatter(rng, city, community, sigma_km=1.2)
    no_coords = rng.random(n) < 0.02
    lat[no_coords] = np.nan
    lon[no_coords] = np.nan
    grid, comm, street = _hierarchy(rng, community)
    skills = np.where(rng.random((n, len(SKILLS))) < 0.3, rng.integers(1, 4, (n, len(SKILLS))), 0).astype(np.uint8)
    week_ordinal = WEEK_START.toordinal()
    expiry = rng.integers(week_ordinal - 30, week_ordinal + 365, (n, len(CERTS))).astype(np.int32)
    expiry[rng.random((n, len(CERTS))) < 0.3] = NO_EXPIRY
    certs = np.where(rng.random((n, len(CERTS))) < 0.35, expiry, 0).astype(np.int32)
    # Weekly availability: one shift pattern per volunteer on ~60% of days.
    shift = rng.integers(0, len(SHIFTS), n)
    day_on = rng.random((n, 7)) < 0.6
    vol_idx, weekday = np.nonzero(day_on)
    starts = np.array([s for s, _ in SHIFTS])[shift[vol_idx]]
    ends = np.array([e for _, e in SHIFTS])[shift[vol_idx]]
    avail_keys = (vol_idx.astype(np.int64) * 7 + weekday) * (MINUTES_PER_DAY + 1) + starts
    # Dated exceptions and confirmed tasks, sparse.
    exc = np.flatnonzero(rng.random(n) < 0.05)
    unavailable = exc * KEY_SHIFT + week_ordinal + rng.integers(0, 7, len(exc))
    busy_vol = np.flatnonzero(rng.random(n) < 0.10)
    week_minute = minutes_floor(WEEK_START)
    busy_start = week_minute + rng.integers(0, 7, len(busy_vol)) * MINUTES_PER_DAY + rng.integers(8, 20, len(busy_vol)) * 60
    served_vol = np.flatnonzero(rng.random(n) < 0.05)
    pref_vol = np.flatnonzero(rng.random(n) < 0.3)
    return VolunteerTable(
        ids=np.arange(n, dtype=np.int64),
        lat=lat, lon=lon, grid=grid, community=comm, street=street,
        gender=rng.integers(0, 2, n).astype(np.int64),
        age=rng.integers(16, 76, n).astype(np.int64),
        active=rng.random(n) < 0.95,
        background_checked=rng.random(n) < 0.6,
        skill_levels=skills, cert_expiry=certs,
        avail_keys=avail_keys, avail_ends=ends.astype(np.int64),
        unavailable_keys=np.sort(unavailable),
        busy_keys=busy_vol * KEY_SHIFT + busy_start, busy_ends=busy_start + 120,
        recent_load=np.zeros(n, dtype=np.int64),
        served_keys=np.sort(served_vol * KEY_SHIFT + rng.integers(0, 10_000, len(served_vol))),
        preference_keys=np.sort(pref_vol * KEY_SHIFT + rng.integers(0, len(NEED_TYPES), len(pref_vol))),
        vocabulary=VOCABULARY,
    )  # fmt: skip


def make_slots(city: City, n: int, seed: int) -> SlotTable:
    """Needs of one week; rescue needs are multi-slot posts (5-20 slots, same place and time)."""
    rng = np.random.default_rng(seed + 2)
    types = rng.choice(len(NEED_TYPES), n, p=[NEED_RULES[t][4] for t in NEED_TYPES])
    need_id = np.arange(n)
    # Group consecutive rescue slots into posts sharing need id, place and time.
    rescue = np.flatnonzero(types == NEED_TYPES.index("rescue"))
    post_sizes = rng.integers(5, 21, len(rescue))
    post_of = np.repeat(np.arange(len(rescue)), post_sizes)[: len(rescue)]
    need_id[rescue] = rescue[np.searchsorted(post_of, post_of)]
    community = rng.integers(0, city.n_communities, n)
    lat, lon = _scatter(rng, city, community, sigma_km=1.0)
    grid, comm, street = _hierarchy(rng, community)
    day = rng.integers(0, 7, n)
    shift = rng.integers(0, len(SHIFTS), n)
    shift_start = np.array([s for s, _ in SHIFTS])[shift]
    start_min = shift_start + rng.integers(0, 3, n) * 60
    duration = rng.choice([60, 120, 180], n)
    start = minutes_floor(WEEK_START) + day * MINUTES_PER_DAY + start_min
    # Posts: every slot of a post copies its first slot's place and time.
    for arr in (lat, lon, grid, comm, street, start, duration):
        arr[rescue] = arr[need_id[rescue]]
    required_skills = np.zeros((n, len(SKILLS)), dtype=np.uint8)
    required_certs = np.zeros((n, len(CERTS)), dtype=bool)
    max_km = np.empty(n)
    for t, (limit, skill, level, cert, _) in NEED_RULES.items():
        rows = types == NEED_TYPES.index(t)
        max_km[rows] = limit
        if skill:
            required_skills[rows, SKILLS.index(skill)] = level
        if cert:
            required_certs[rows, CERTS.index(cert)] = True
    care = types == NEED_TYPES.index("care")
    priority = rng.choice([3, 2, 1], n, p=[0.1, 0.3, 0.6])
    priority[rescue] = 3
    return SlotTable.from_arrays(
        ids=np.arange(n, dtype=np.int64), lat=lat, lon=lon, grid=grid, community=comm, street=street,
        max_km=max_km, rank=priority.astype(np.int64),
        start_minute=start.astype(np.int64), end_minute=(start + duration).astype(np.int64),
        required_skills=required_skills, unknown_skill=np.zeros(n, bool),
        required_certs=required_certs, unknown_cert=np.zeros(n, bool),
        gender=np.where(care & (rng.random(n) < 0.5), rng.integers(0, 2, n), -1).astype(np.int64),
        adults_only=care | (types == NEED_TYPES.index("rescue")),
        needs_background_check=care,
        beneficiary=np.where(rng.random(n) < 0.5, rng.integers(0, 10_000, n), -1).astype(np.int64),
        need_type=types.astype(np.int64),
    )  # fmt: skip


def with_load(vols: VolunteerTable, load: np.ndarray) -> VolunteerTable:
    return replace(vols, recent_load=load.astype(np.int64))


def table_bytes(table: object) -> int:
    return sum(v.nbytes for v in vars(table).values() if isinstance(v, np.ndarray))


__all__ = ["SIZES", "make_city", "make_slots", "make_volunteers", "with_load", "table_bytes", "TIME_EPOCH"]
