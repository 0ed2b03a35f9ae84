"""Random but seeded instances for the matching tests."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from volunteer_hub.matching import Slot, Volunteer, WeeklyWindow

BASE_DAY = datetime(2024, 3, 4)  # a Monday
SKILLS = ("first_aid", "cooking", "driving", "elder_care")
CERTS = ("cpr", "driver_license")
NEED_TYPES = ("visit", "meal", "ride", "rescue")
PRIORITIES = ("urgent", "high", "normal")
DAY_PARTS = ("morning", "afternoon", "evening")
CATEGORIES = ("elderly", "child", "disabled")


def random_volunteer(rng: random.Random, vid: int, spread_km: float = 3.0, loose: bool = False) -> Volunteer:
    open_day = 0.95 if loose else 0.7
    has_coords = rng.random() < 0.85
    deg = spread_km / 111.0
    return Volunteer(
        id=vid,
        lat=31.23 + rng.uniform(-deg, deg) if has_coords else None,
        lon=121.47 + rng.uniform(-deg, deg) if has_coords else None,
        grid_id=rng.randrange(4),
        community_id=rng.randrange(2),
        street_id=0,
        gender=rng.choice(("female", "male")),
        age=rng.choice((16, 17, 25, 40, 67)),
        active=rng.random() < 0.92,
        skills={s: rng.randint(1, 3) for s in SKILLS if rng.random() < 0.5},
        certifications={
            c: rng.choice((None, date(2024, 3, 1), date(2024, 3, 6), date(2025, 1, 1)))
            for c in CERTS
            if rng.random() < 0.4
        },
        background_checked=rng.random() < 0.7,
        availability=tuple(
            WeeklyWindow(d, rng.choice((0, 0, 480, 600) if loose else (0, 480, 600)), rng.choice((720, 1080, 1440)))
            for d in range(7)
            if rng.random() < open_day
        ),
        unavailable_dates=frozenset({date(2024, 3, 4 + rng.randrange(7))} if rng.random() < 0.2 else ()),
        busy=tuple(
            (BASE_DAY + timedelta(days=d, hours=h), BASE_DAY + timedelta(days=d, hours=h + 2))
            for d, h in [(rng.randrange(7), rng.randrange(8, 18))]
            if rng.random() < 0.3
        ),
        recent_load=rng.randrange(5),
        served_beneficiaries=frozenset({rng.randrange(5)} if rng.random() < 0.3 else ()),
        preferred_need_types=frozenset(t for t in NEED_TYPES if rng.random() < 0.3),
        **random_preferences(random.Random(vid)),
    )


def random_preferences(rng: random.Random) -> dict[str, object]:
    """Travel limit and soft preferences, from their own stream so that the
    main stream (and so every older instance) is unchanged."""
    return dict(
        max_travel_km=rng.choice((None, None, None, 1.5, 4.0)),
        preferred_weekdays=frozenset(rng.sample(range(7), 3)) if rng.random() < 0.3 else frozenset(),
        preferred_day_parts=frozenset({rng.choice(DAY_PARTS)}) if rng.random() < 0.3 else frozenset(),
        preferred_categories=frozenset({rng.choice(CATEGORIES)}) if rng.random() < 0.3 else frozenset(),
    )


def random_slot(rng: random.Random, sid: int, spread_km: float = 3.0, loose: bool = False) -> Slot:
    strict = 0.3 if loose else 1.0
    has_coords = rng.random() < 0.9
    deg = spread_km / 111.0
    start = BASE_DAY + timedelta(days=rng.randrange(7), hours=rng.randrange(8, 19))
    return Slot(
        id=sid,
        need_id=sid // 2,
        need_type=rng.choice(NEED_TYPES),
        priority=rng.choice(PRIORITIES),
        start=start,
        end=start + timedelta(hours=rng.choice((1, 2, 3))),
        lat=31.23 + rng.uniform(-deg, deg) if has_coords else None,
        lon=121.47 + rng.uniform(-deg, deg) if has_coords else None,
        grid_id=rng.randrange(4),
        community_id=rng.randrange(2),
        street_id=0,
        max_distance_km=rng.choice((None, 1.0, 2.0, 5.0)),
        required_skills={s: rng.randint(1, 3) for s in SKILLS if rng.random() < 0.25 * strict},
        required_certifications=frozenset(c for c in CERTS if rng.random() < 0.15 * strict),
        same_gender=rng.choice((None, None, None, "female")) if rng.random() < strict else None,
        adults_only=rng.random() < 0.3 * strict,
        needs_background_check=rng.random() < 0.2 * strict,
        beneficiary_id=rng.randrange(5) if rng.random() < 0.5 else None,
        beneficiary_category=random.Random(sid).choice((None, *CATEGORIES)),
    )


def random_instance(
    seed: int, n_slots: int, n_vols: int, spread_km: float = 3.0, loose: bool = False
) -> tuple[list[Slot], list[Volunteer]]:
    rng = random.Random(seed)
    slots = [random_slot(rng, 100 + i, spread_km, loose) for i in range(n_slots)]
    vols = [random_volunteer(rng, 1000 + i, spread_km, loose) for i in range(n_vols)]
    return slots, vols


def easy_volunteer(vid: int, **overrides: object) -> Volunteer:
    """A volunteer who passes every rule for easy_slot()."""
    fields: dict[str, object] = dict(
        id=vid,
        lat=31.23,
        lon=121.47,
        grid_id=1,
        community_id=1,
        street_id=1,
        gender="female",
        age=30,
        skills={"first_aid": 2},
        certifications={"cpr": None},
        background_checked=True,
        availability=tuple(WeeklyWindow(d, 0, 1440) for d in range(7)),
    )
    fields.update(overrides)
    return Volunteer(**fields)  # type: ignore[arg-type]


def easy_slot(sid: int = 1, **overrides: object) -> Slot:
    fields: dict[str, object] = dict(
        id=sid,
        need_id=1,
        need_type="visit",
        priority="normal",
        start=BASE_DAY + timedelta(hours=9),
        end=BASE_DAY + timedelta(hours=11),
        lat=31.23,
        lon=121.47,
        grid_id=1,
        community_id=1,
        street_id=1,
        max_distance_km=3.0,
        required_skills={"first_aid": 1},
        required_certifications=frozenset({"cpr"}),
    )
    fields.update(overrides)
    return Slot(**fields)  # type: ignore[arg-type]
