"""The pure responder-to-seat solver: feasibility, objective order, and optimality."""
from __future__ import annotations

import itertools
import random

import pytest

from volunteer_hub.matching.responders import (
    ResponderCandidate, ResponderWeights, Seat, assign, feasible, nearest_point, pair_cost,
)

RESCUE = Seat("rescue", skill="water_rescue", min_level=2, certification="water_rescue_licence")
FIRST_AID = Seat("first_aid", skill="first_aid", min_level=1, certification="first_aid")
HELPER = Seat("helper")


def swimmer(level: int, eta: float = 20, *, licence: bool = True, **kw) -> ResponderCandidate:
    return ResponderCandidate(eta_minutes=eta, skills={"water_rescue": level},
                              certifications=frozenset({"water_rescue_licence"} if licence
                                                       else set()), **kw)


def test_a_responder_without_the_valid_certificate_is_never_seated():
    assert assign([swimmer(3, licence=False)], [RESCUE]) == []


def test_a_skill_below_the_minimum_is_infeasible_until_escalation_relaxes_it():
    novice = swimmer(1)
    assert not feasible(novice, RESCUE)
    assert assign([novice], [RESCUE]) == []
    assert assign([novice], [RESCUE], relaxed_by=1) == [(0, 0)]


def test_relaxation_never_drops_a_skill_requirement_below_level_one():
    untrained = ResponderCandidate(eta_minutes=5, certifications=frozenset(
        {"water_rescue_licence"}))
    assert assign([untrained], [RESCUE], relaxed_by=5) == []


def test_a_seat_without_requirements_takes_anyone():
    assert assign([ResponderCandidate(eta_minutes=10)], [HELPER]) == [(0, 0)]


def test_the_nearer_responder_gets_the_single_seat():
    pairs = assign([swimmer(2, eta=45), swimmer(2, eta=10)], [RESCUE])
    assert pairs == [(1, 0)]


def test_filling_more_seats_beats_a_cheaper_plan():
    # The only first-aider is also the fastest swimmer: the solver must give the rescue seat
    # to the slow swimmer so both seats are filled.
    both = ResponderCandidate(eta_minutes=1, skills={"water_rescue": 3, "first_aid": 2},
                              certifications=frozenset({"water_rescue_licence", "first_aid"}))
    slow = swimmer(2, eta=300)
    pairs = assign([both, slow], [RESCUE, FIRST_AID])
    assert pairs == [(0, 1), (1, 0)]


def test_an_expert_is_kept_for_where_expertise_is_needed():
    expert = ResponderCandidate(eta_minutes=10, skills={"water_rescue": 3, "first_aid": 3},
                                certifications=frozenset({"water_rescue_licence",
                                                          "first_aid"}))
    medic = ResponderCandidate(eta_minutes=10, skills={"first_aid": 1},
                               certifications=frozenset({"first_aid"}))
    assert assign([expert, medic], [RESCUE, FIRST_AID]) == [(0, 0), (1, 1)]


def test_the_recently_deployed_rest_when_someone_as_near_is_available():
    tired = swimmer(2, eta=10, recent_deployments=2)
    fresh = swimmer(2, eta=15)
    assert assign([tired, fresh], [RESCUE]) == [(1, 0)]


def test_fatigue_does_not_exclude_a_responder_when_nobody_else_can_go():
    tired = swimmer(2, eta=10, recent_deployments=5)
    assert assign([tired], [RESCUE]) == [(0, 0)]


def test_fairness_prefers_the_one_deployed_less_often_when_otherwise_equal():
    often = swimmer(2, eta=10, past_deployments=6)
    seldom = swimmer(2, eta=10, past_deployments=1)
    assert assign([often, seldom], [RESCUE]) == [(1, 0)]


def test_weights_change_the_trade_off():
    tired_near = swimmer(2, eta=10, recent_deployments=2)
    fresh_far = swimmer(2, eta=45)
    assert assign([tired_near, fresh_far], [RESCUE]) == [(1, 0)]
    travel_only = ResponderWeights(fatigue=0, fairness=0, surplus=0)
    assert assign([tired_near, fresh_far], [RESCUE], travel_only) == [(0, 0)]


def test_more_responders_than_seats_and_more_seats_than_responders():
    many = [swimmer(2, eta=e) for e in (50, 10, 30, 20)]
    assert sorted(r for r, _ in assign(many, [RESCUE, RESCUE])) == [1, 3]
    assert len(assign([swimmer(2)], [RESCUE, RESCUE, RESCUE])) == 1


def test_empty_inputs_give_no_pairs():
    assert assign([], [RESCUE]) == []
    assert assign([swimmer(2)], []) == []


def _brute_force(candidates, seats, weights):
    """Best (filled, -cost) over every injective assignment of seats to responders or none."""
    best = (0, 0.0)
    options = list(range(len(candidates))) + [None] * len(seats)
    for chosen in itertools.permutations(options, len(seats)):
        used = [c for c in chosen if c is not None]
        if len(used) != len(set(used)):
            continue
        if any(c is not None and not feasible(candidates[c], seats[s])
               for s, c in enumerate(chosen)):
            continue
        cost = sum(pair_cost(candidates[c], seats[s], weights)
                   for s, c in enumerate(chosen) if c is not None)
        best = max(best, (len(used), -cost))
    return best


@pytest.mark.parametrize("seed", range(25))
def test_random_small_instances_are_solved_optimally(seed):
    rng = random.Random(seed)
    kinds = ["water_rescue_licence", "first_aid"]
    candidates = [
        ResponderCandidate(
            eta_minutes=rng.randint(0, 120),
            skills={s: rng.randint(1, 3) for s in ("water_rescue", "first_aid")
                    if rng.random() < 0.6},
            certifications=frozenset(k for k in kinds if rng.random() < 0.6),
            recent_deployments=rng.randint(0, 2), past_deployments=rng.randint(0, 5))
        for _ in range(rng.randint(1, 5))]
    seats = [rng.choice([RESCUE, FIRST_AID, HELPER]) for _ in range(rng.randint(1, 4))]
    weights = ResponderWeights()
    pairs = assign(candidates, seats, weights)
    assert len({r for r, _ in pairs}) == len(pairs) == len({s for _, s in pairs})
    assert all(feasible(candidates[r], seats[s]) for r, s in pairs)
    cost = sum(pair_cost(candidates[r], seats[s], weights) for r, s in pairs)
    filled, best_cost = _brute_force(candidates, seats, weights)
    assert len(pairs) == filled
    assert cost == pytest.approx(-best_cost)


def test_nearest_assembly_point():
    points = [(31.00, 121.0), (31.10, 121.0), (None, None)]
    assert nearest_point(31.09, 121.0, points) == 1
    assert nearest_point(31.01, 121.0, points) == 0
    assert nearest_point(None, 121.0, points) == 0
    assert nearest_point(31.0, 121.0, []) is None
