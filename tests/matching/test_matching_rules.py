"""Each feasibility rule, positive and negative, and vectorised == scalar."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta

import numpy as np
import pytest

from volunteer_hub.matching import (
    SlotTable,
    Volunteer,
    VolunteerTable,
    WeeklyWindow,
    Weights,
    build_candidates,
    solve,
    vocabulary_for,
)
from volunteer_hub.matching import domain as d

from ._factories import BASE_DAY, easy_slot, easy_volunteer, random_instance


def test_easy_pair_is_feasible() -> None:
    assert d.is_feasible(easy_slot(), easy_volunteer(1))


def test_active() -> None:
    assert d.is_active(easy_slot(), easy_volunteer(1))
    assert not d.is_active(easy_slot(), easy_volunteer(1, active=False))


@pytest.mark.parametrize(
    ("skills", "ok"),
    [({"first_aid": 1}, True), ({"first_aid": 3}, True), ({}, False), ({"cooking": 3}, False)],
)
def test_skill_levels(skills: dict[str, int], ok: bool) -> None:
    assert d.has_required_skills(easy_slot(), easy_volunteer(1, skills=skills)) is ok


def test_skill_level_below_minimum() -> None:
    slot = easy_slot(required_skills={"first_aid": 2})
    assert not d.has_required_skills(slot, easy_volunteer(1, skills={"first_aid": 1}))
    assert d.has_required_skills(slot, easy_volunteer(1, skills={"first_aid": 2}))


@pytest.mark.parametrize(
    ("certs", "ok"),
    [
        ({"cpr": None}, True),
        ({"cpr": BASE_DAY.date()}, True),  # expiry day itself is still valid
        ({"cpr": BASE_DAY.date() - timedelta(days=1)}, False),
        ({}, False),
    ],
)
def test_certification_valid_on_slot_date(certs: dict[str, date | None], ok: bool) -> None:
    assert d.has_valid_certifications(easy_slot(), easy_volunteer(1, certifications=certs)) is ok


def test_certification_must_last_until_overnight_slot_ends() -> None:
    slot = easy_slot(start=BASE_DAY + timedelta(hours=22), end=BASE_DAY + timedelta(hours=26))
    assert not d.has_valid_certifications(slot, easy_volunteer(1, certifications={"cpr": BASE_DAY.date()}))


def test_weekly_availability_covers_whole_slot() -> None:
    monday_morning = (WeeklyWindow(0, 8 * 60, 12 * 60),)
    assert d.weekly_availability_covers(easy_slot(), easy_volunteer(1, availability=monday_morning))
    short = (WeeklyWindow(0, 8 * 60, 10 * 60),)
    assert not d.weekly_availability_covers(easy_slot(), easy_volunteer(1, availability=short))
    tuesday = (WeeklyWindow(1, 0, 1440),)
    assert not d.weekly_availability_covers(easy_slot(), easy_volunteer(1, availability=tuesday))


def test_touching_windows_merge_and_overnight_slot() -> None:
    split = (WeeklyWindow(0, 8 * 60, 10 * 60), WeeklyWindow(0, 10 * 60, 12 * 60))
    assert d.weekly_availability_covers(easy_slot(), easy_volunteer(1, availability=split))
    overnight = easy_slot(start=BASE_DAY + timedelta(hours=23), end=BASE_DAY + timedelta(hours=25))
    both = (WeeklyWindow(0, 22 * 60, 1440), WeeklyWindow(1, 0, 120))
    assert d.weekly_availability_covers(overnight, easy_volunteer(1, availability=both))
    assert not d.weekly_availability_covers(overnight, easy_volunteer(1, availability=both[:1]))


def test_dated_exception() -> None:
    assert d.not_excepted_that_day(easy_slot(), easy_volunteer(1, unavailable_dates=frozenset({date(2024, 3, 5)})))
    assert not d.not_excepted_that_day(easy_slot(), easy_volunteer(1, unavailable_dates=frozenset({BASE_DAY.date()})))


def test_busy_overlap() -> None:
    def busy(h0: int, h1: int) -> tuple[tuple[datetime, datetime], ...]:
        return ((BASE_DAY + timedelta(hours=h0), BASE_DAY + timedelta(hours=h1)),)

    assert d.is_free(easy_slot(), easy_volunteer(1, busy=busy(11, 12)))  # touching is fine
    assert d.is_free(easy_slot(), easy_volunteer(1, busy=busy(7, 9)))
    assert not d.is_free(easy_slot(), easy_volunteer(1, busy=busy(10, 12)))
    assert not d.is_free(easy_slot(), easy_volunteer(1, busy=busy(8, 13)))


def test_distance_with_coordinates() -> None:
    near = easy_volunteer(1, lat=31.23 + 2.0 / 111.2)  # about 2 km north
    assert d.within_distance(easy_slot(max_distance_km=3.0), near)
    assert not d.within_distance(easy_slot(max_distance_km=1.0), near)
    assert d.within_distance(easy_slot(max_distance_km=None), near)
    assert d.haversine_km(31.23, 121.47, 31.23 + 2.0 / 111.2, 121.47) == pytest.approx(2.0, rel=1e-3)


def test_distance_hierarchy_fallback() -> None:
    no_coords = dict(lat=None, lon=None)
    same_grid = easy_volunteer(1, **no_coords)
    same_community = easy_volunteer(1, grid_id=9, **no_coords)
    same_street = easy_volunteer(1, grid_id=9, community_id=9, **no_coords)
    farther = easy_volunteer(1, grid_id=9, community_id=9, street_id=9, **no_coords)
    tight, wide = easy_slot(max_distance_km=1.0), easy_slot(max_distance_km=d.STREET_FALLBACK_MIN_KM)
    assert d.within_distance(tight, same_grid) and d.within_distance(tight, same_community)
    assert not d.within_distance(tight, same_street) and d.within_distance(wide, same_street)
    assert not d.within_distance(easy_slot(max_distance_km=None), farther)
    assert d.relation_and_distance(tight, same_community) == ("same_community", 1.5)


def test_adults_only() -> None:
    assert d.meets_age(easy_slot(adults_only=True), easy_volunteer(1, age=18))
    assert not d.meets_age(easy_slot(adults_only=True), easy_volunteer(1, age=17))
    assert d.meets_age(easy_slot(adults_only=False), easy_volunteer(1, age=16))


def test_same_gender() -> None:
    assert d.matches_gender(easy_slot(same_gender="female"), easy_volunteer(1, gender="female"))
    assert not d.matches_gender(easy_slot(same_gender="female"), easy_volunteer(1, gender="male"))
    assert d.matches_gender(easy_slot(same_gender=None), easy_volunteer(1, gender="male"))


def test_background_check() -> None:
    assert d.meets_background_check(easy_slot(needs_background_check=True), easy_volunteer(1))
    assert not d.meets_background_check(
        easy_slot(needs_background_check=True), easy_volunteer(1, background_checked=False)
    )


def test_cost_terms() -> None:
    w = Weights(distance=1.0, skill_surplus=0.5, load=1.0, continuity=2.0, preference=1.0, load_exponent=1.0)
    base = d.pair_cost(easy_slot(), easy_volunteer(1), w)
    assert d.pair_cost(easy_slot(), easy_volunteer(1, skills={"first_aid": 3}), w) == base + 50  # 1 surplus level
    assert d.pair_cost(easy_slot(), easy_volunteer(1, recent_load=2), w) == base + 200
    assert d.pair_cost(easy_slot(beneficiary_id=7), easy_volunteer(1, served_beneficiaries=frozenset({7})), w) == base - 200
    assert d.pair_cost(easy_slot(), easy_volunteer(1, preferred_need_types=frozenset({"visit"})), w) == base - 100
    assert d.pair_cost(easy_slot(), easy_volunteer(1), w) >= 1


@pytest.mark.parametrize("seed", range(12))
def test_vectorised_rules_and_costs_match_scalar(seed: int) -> None:
    slots, vols = random_instance(seed, 25, 60)
    vocab = vocabulary_for(slots, vols)
    weights = Weights(skill_surplus=0.5, load=1.0, continuity=2.0, preference=1.0, preference_miss=0.5,
                      load_exponent=1.0 + seed % 3)
    graph = build_candidates(SlotTable.from_slots(slots, vocab), VolunteerTable.from_volunteers(vols, vocab), weights, max_candidates=1000)
    sorted_slots, sorted_vols = sorted(slots, key=lambda s: s.id), sorted(vols, key=lambda v: v.id)
    edges = {(int(s), int(v)): int(c) for s, v, c in zip(graph.slot_idx, graph.vol_idx, graph.cost)}
    expected = {
        (i, j)
        for i, s in enumerate(sorted_slots)
        for j, v in enumerate(sorted_vols)
        if d.is_feasible(s, v)
    }
    assert set(edges) == expected
    demand = d.relative_demands(sorted_slots, sorted_vols)
    for (i, j), cost in edges.items():
        # numpy and math trig may differ in the last ulp; allow one cost unit.
        v = sorted_vols[j]
        assert abs(cost - d.pair_cost(sorted_slots[i], v, weights, demand[v.id])) <= 1
    assert np.all(graph.cost >= 1)


def test_convex_load_makes_each_further_task_dearer() -> None:
    w = Weights(distance=1.0, load=0.5, load_exponent=2.0)
    cost = [d.pair_cost(easy_slot(), easy_volunteer(1, recent_load=k), w) for k in range(4)]
    assert [b - a for a, b in zip(cost, cost[1:])] == [50, 150, 250]  # 0.5 x (1, 3, 5) points
    default = [d.pair_cost(easy_slot(), easy_volunteer(1, recent_load=k), Weights()) for k in range(4)]
    steps = [b - a for a, b in zip(default, default[1:])]
    assert steps == sorted(steps, reverse=True) and steps[0] == 35  # concave: the first task costs most
    with pytest.raises(ValueError):
        Weights(load_exponent=0.0)


def test_volunteer_travel_limit_is_hard() -> None:
    far_slot = easy_slot(lat=31.23 + 2.0 / 111.2)  # about 2 km north
    assert d.within_distance(far_slot, easy_volunteer(1))
    assert not d.within_distance(far_slot, easy_volunteer(1, max_travel_km=1.0))
    assert d.within_distance(far_slot, easy_volunteer(1, max_travel_km=2.5))
    # Without coordinates the charged hierarchy distance counts: same community = 1.5 km.
    plain = easy_slot(lat=None, lon=None, grid_id=9)
    assert not d.within_distance(plain, easy_volunteer(1, max_travel_km=1.0))
    result = solve([far_slot], [easy_volunteer(1, max_travel_km=1.0), easy_volunteer(2)])
    assert [p.volunteer_id for p in result.pairings] == [2]


def test_preferences_cost_and_explain_each_miss() -> None:
    # easy_slot: Monday 9:00, a visit; beneficiary category "elderly".
    slot = easy_slot(beneficiary_category="elderly")
    w = Weights(preference_miss=0.5)
    base = d.pair_cost(slot, easy_volunteer(1), w)
    liked = easy_volunteer(1, preferred_weekdays=frozenset({0}), preferred_day_parts=frozenset({"morning"}),
                           preferred_categories=frozenset({"elderly"}), preferred_need_types=frozenset({"visit"}))
    assert d.preference_misses(slot, liked) == () and d.pair_cost(slot, liked, w) == base
    disliked = easy_volunteer(2, preferred_weekdays=frozenset({5, 6}), preferred_day_parts=frozenset({"evening"}),
                              preferred_categories=frozenset({"child"}), preferred_need_types=frozenset({"meal"}))
    assert d.preference_misses(slot, disliked) == ("need_type", "weekday", "day_part", "category")
    assert d.pair_cost(slot, disliked, w) == base + 200
    result = solve([slot], [disliked, replace_id(liked, 3)], w)
    assert result.pairings[0].volunteer_id == 3
    alone = solve([slot], [disliked], w).pairings[0]
    assert alone.explanation.preference_misses == ("need_type", "weekday", "day_part", "category")


def replace_id(volunteer: Volunteer, new_id: int) -> Volunteer:
    return dataclasses.replace(volunteer, id=new_id)


@pytest.mark.parametrize("seed", range(4))
def test_availability_shape_trees_find_every_feasible_pair(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from volunteer_hub.matching import candidates

    monkeypatch.setattr(candidates, "MIN_SPLIT_MEMBERS", 0)  # split even these small groups
    monkeypatch.setattr(candidates, "MAX_SHAPE_TREES", 3)  # and send most shapes to the "rare" tree
    slots, vols = random_instance(40 + seed, 30, 120, loose=bool(seed % 2))
    vocab = vocabulary_for(slots, vols)
    st, vt = SlotTable.from_slots(slots, vocab), VolunteerTable.from_volunteers(vols, vocab)
    assert len(vt.window_shapes[0]) == 3
    graph = build_candidates(st, vt, Weights(), max_candidates=1000)
    sorted_slots, sorted_vols = sorted(slots, key=lambda s: s.id), sorted(vols, key=lambda v: v.id)
    expected = {(i, j) for i, s in enumerate(sorted_slots) for j, v in enumerate(sorted_vols) if d.is_feasible(s, v)}
    pairs = list(zip(graph.slot_idx.tolist(), graph.vol_idx.tolist()))
    assert len(pairs) == len(set(pairs))  # a volunteer in two shape trees is one candidate
    assert set(pairs) == expected
