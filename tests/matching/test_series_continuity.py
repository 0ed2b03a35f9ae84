"""A weekly series goes to one volunteer whenever one can take every occurrence, and the
solve stays exact for the stated objective (series.py): most priority-weighted fills (a
series counts all its occurrences), then least cost. Checked against brute force."""

from __future__ import annotations

import itertools
import random
from datetime import timedelta

import numpy as np
import pytest

from volunteer_hub.matching import SlotTable, VolunteerTable, Weights, vocabulary_for
from volunteer_hub.matching.domain import PRIORITY_RANK, WeeklyWindow, is_feasible, pair_cost
from volunteer_hub.matching import series
from volunteer_hub.matching.series import NO_SERIES, series_of, solve_with_series
from volunteer_hub.matching.solver import UNASSIGNED

from ._factories import BASE_DAY, easy_slot, easy_volunteer

WEIGHTS = Weights(demand=0.0)  # the demand term depends on candidate lists, not on the pair


def _instance(seed: int):
    rng = random.Random(seed)
    slots, sid = [], 1
    for need in (1, 2):  # two weekly series of three occurrences
        hour = rng.choice((9, 14))
        for week in range(3):
            start = BASE_DAY + timedelta(days=7 * week + need, hours=hour)
            slots.append(easy_slot(sid, need_id=need, start=start, end=start + timedelta(hours=2),
                                   priority=rng.choice(("urgent", "normal")), beneficiary_id=need,
                                   lat=31.23 + rng.uniform(-0.01, 0.01)))
            sid += 1
    for need in (3, 4):  # two one-off needs
        start = BASE_DAY + timedelta(days=rng.randrange(21), hours=rng.choice((9, 14)))
        slots.append(easy_slot(sid, need_id=need, start=start, end=start + timedelta(hours=2),
                               priority=rng.choice(("high", "normal")), lat=31.23 + rng.uniform(-0.01, 0.01)))
        sid += 1
    vols = []
    for vid in range(1, 6):
        days = rng.sample(range(7), rng.randrange(3, 7))
        away = {(BASE_DAY + timedelta(days=d)).date() for d in rng.sample(range(21), rng.randrange(0, 3))}
        vols.append(easy_volunteer(vid, lat=31.23 + rng.uniform(-0.015, 0.015), lon=121.47 + rng.uniform(-0.015, 0.015),
                                   availability=tuple(WeeklyWindow(d, 0, 1440) for d in days),
                                   unavailable_dates=frozenset(away), recent_load=rng.randrange(3)))
    return slots, vols


def _brute_force(slots, vols, series) -> tuple[int, int]:
    """(priority-weighted fills, cost) of the best assignment of rows to volunteers, a
    series (as solved: split where nobody can take it whole) being one row when some
    volunteer can take all its occurrences."""
    rows: list[list[int]] = []  # each row: the slot indices it fills together
    for s in sorted(set(series.tolist()) - {NO_SERIES}):
        members = list(np.flatnonzero(series == s))
        if any(all(is_feasible(slots[m], v) for m in members) for v in vols):
            rows.append(members)
        else:
            rows.extend([m] for m in members)
    rows.extend([i] for i in np.flatnonzero(series == NO_SERIES))
    options = []
    for members in rows:
        choices = [(None, 0, 0)]
        for v in vols:
            if all(is_feasible(slots[m], v) for m in members):
                cost = sum(pair_cost(slots[m], v, WEIGHTS) for m in members)
                choices.append((v.id, sum(PRIORITY_RANK[slots[m].priority] for m in members), cost))
        options.append(choices)
    best = (0, 0)
    for combo in itertools.product(*options):
        used = [c[0] for c in combo if c[0] is not None]
        if len(used) != len(set(used)):
            continue
        score = (sum(c[1] for c in combo), -sum(c[2] for c in combo))
        best = max(best, score)
    return best[0], -best[1]


@pytest.mark.parametrize("seed", range(12))
def test_series_solve_matches_brute_force(seed: int) -> None:
    slots, vols = _instance(seed)
    vocab = vocabulary_for(slots, vols)
    st, vt = SlotTable.from_slots(slots, vocab), VolunteerTable.from_volunteers(vols, vocab)
    series = series_of(slots)
    solved = solve_with_series(st, vt, WEIGHTS, series)
    filled = np.flatnonzero(solved.assignment != UNASSIGNED)
    weight = sum(PRIORITY_RANK[slots[i].priority] for i in filled)
    cost = sum(pair_cost(slots[i], vols[int(solved.assignment[i])], WEIGHTS) for i in filled)
    assert (weight, cost) == _brute_force(slots, vols, solved.series)
    for s in solved.whole_feasible:
        people = {int(solved.assignment[i]) for i in np.flatnonzero(series == s)}
        assert len(people) == 1  # one face, or (UNASSIGNED) left whole to the next round
    for s in set(solved.series.tolist()) - {NO_SERIES}:
        assert len({int(solved.assignment[i]) for i in np.flatnonzero(solved.series == s)}) == 1


def test_a_series_someone_can_take_whole_goes_to_one_person() -> None:
    """The nearest volunteer is away one week: without continuity each week would go to
    whoever is nearest then; with it, the one who can come every week takes all three."""
    slots = [easy_slot(i + 1, need_id=1, start=BASE_DAY + timedelta(days=7 * i, hours=9),
                       end=BASE_DAY + timedelta(days=7 * i, hours=11), beneficiary_id=1) for i in range(3)]
    near = easy_volunteer(1, unavailable_dates=frozenset({(BASE_DAY + timedelta(days=7)).date()}))
    farther = easy_volunteer(2, lat=31.24)
    vocab = vocabulary_for(slots, [near, farther])
    solved = solve_with_series(SlotTable.from_slots(slots, vocab),
                               VolunteerTable.from_volunteers([near, farther], vocab), WEIGHTS, series_of(slots))
    assert solved.assignment.tolist() == [1, 1, 1]  # index of `farther` in the id-sorted table


def test_a_series_nobody_can_take_whole_goes_to_as_few_people_as_the_split_allows() -> None:
    """A can come in weeks 1 and 2, B in weeks 2 and 3 and 4: two faces, not four (week 2,
    which both can take, goes to the smaller part)."""
    slots = [easy_slot(i + 1, need_id=1, start=BASE_DAY + timedelta(days=7 * i, hours=9),
                       end=BASE_DAY + timedelta(days=7 * i, hours=11), beneficiary_id=1) for i in range(4)]

    def away(*weeks: int) -> frozenset:
        return frozenset((BASE_DAY + timedelta(days=7 * w)).date() for w in weeks)

    a = easy_volunteer(1, unavailable_dates=away(2, 3))
    b = easy_volunteer(2, lat=31.231, unavailable_dates=away(0))
    vocab = vocabulary_for(slots, [a, b])
    solved = solve_with_series(SlotTable.from_slots(slots, vocab),
                               VolunteerTable.from_volunteers([a, b], vocab), WEIGHTS, series_of(slots))
    assert len(solved.whole_feasible) == 0
    assert solved.assignment.tolist() == [0, 0, 1, 1]


def _people(masks: list[np.ndarray], parts: list[np.ndarray]) -> int:
    """Faces a split needs: its parts, each a part of one candidate's feasible set."""
    for part in parts:
        assert any((part <= mask).all() for mask in masks)
    return sum(1 for part in parts if part.any())


def _brute_force_fewest(masks: list[np.ndarray]) -> int:
    coverable = np.logical_or.reduce(masks)
    for size in range(0, len(masks) + 1):
        for chosen in itertools.combinations(range(len(masks)), size):
            union = np.zeros(len(coverable), bool)
            for i in chosen:
                union |= masks[i]
            if (union == coverable).all():
                return size
    raise AssertionError("unreachable")


@pytest.mark.parametrize("seed", range(60))
def test_a_split_needs_the_fewest_people_brute_force(seed: int) -> None:
    """Random feasible sets of up to 7 candidates over up to 9 occurrences: the split's
    parts are disjoint, each within one candidate's set, cover every occurrence someone
    can take, and are as few as the brute-force minimum cover."""
    rng = random.Random(seed)
    n, k = rng.randint(2, 9), rng.randint(1, 7)
    masks = [np.array([rng.random() < 0.4 for _ in range(n)]) for _ in range(k)]
    parts = series.parts_of(masks, series.fewest_parts(masks))
    coverable = np.logical_or.reduce(masks)
    covered = np.sum(parts, axis=0) if parts else np.zeros(n, int)
    assert (covered == coverable).all()  # disjoint and complete
    assert _people(masks, parts) == _brute_force_fewest(masks)


def test_the_greedy_split_s_trap_is_avoided() -> None:
    """The largest set first (weeks 1-4) would leave weeks 5 and 6 to two more people; the
    fewest is two: weeks 1, 2, 5 and weeks 3, 4, 6."""
    masks = [np.array([i + 1 in weeks for i in range(6)]) for weeks in ({1, 2, 3, 4}, {1, 2, 5}, {3, 4, 6})]
    chosen = series.fewest_parts(masks)
    assert sorted(chosen) == [1, 2]
    assert len(series._greedy_cover([series._bits(m) for m in masks], [0, 1, 2], 0b111111)) == 3


def test_large_splits_use_the_integer_program_and_stay_minimal(monkeypatch) -> None:
    """Beyond the enumeration budget the integer program gives the same minimum."""
    for seed in range(15):
        rng = random.Random(seed)
        masks = [np.array([rng.random() < 0.35 for _ in range(9)]) for _ in range(7)]
        monkeypatch.setattr(series, "EXACT_ENUMERATION_LIMIT", 0)
        parts = series.parts_of(masks, series.fewest_parts(masks))
        assert _people(masks, parts) == _brute_force_fewest(masks)
