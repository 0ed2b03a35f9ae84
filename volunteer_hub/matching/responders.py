"""Pure assignment of emergency responders to the open seats of an activation's roles.

A seat is one position of a role (a role needing 3 people that has 1 assigned has 2 open
seats). A responder may take a seat only if they hold the role's skill at the minimum level
(lowered by escalation) and a certification of the role's kind valid today: such pairs are
excluded, never just penalised. Among feasible pairs the solver first fills as many seats as
possible, then minimises the total cost:

    cost = eta * ETA minutes
         + surplus * (skill level above the minimum)   keep experts for the harder seats
         + fatigue * deployments in the fatigue window  let the recently deployed rest
         + fairness * deployments in the longer past    spread the burden over the team

"As many seats as possible first" is exact: every infeasible pair costs more than any full
set of feasible pairs together, so swapping one infeasible pair for a feasible one always
lowers the total. The solver imports nothing from Flask or SQLAlchemy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment


@dataclass(frozen=True)
class ResponderCandidate:
    """A responder who answered "coming" and holds no seat yet."""

    eta_minutes: float
    skills: Mapping[str, int] = field(default_factory=dict)  # skill code -> level
    certifications: frozenset[str] = frozenset()  # kinds valid today
    recent_deployments: int = 0  # within the fatigue window
    past_deployments: int = 0  # over a longer horizon, for fairness


@dataclass(frozen=True)
class Seat:
    """One open position of a role."""

    role: str
    skill: str | None = None
    min_level: int = 1
    certification: str | None = None


@dataclass(frozen=True)
class ResponderWeights:
    eta: float = 1.0  # per minute
    surplus: float = 10.0  # per skill level above the seat's minimum
    fatigue: float = 30.0  # per recent deployment: worth half an hour of travel
    fairness: float = 2.0  # per earlier deployment


def feasible(candidate: ResponderCandidate, seat: Seat, relaxed_by: int = 0) -> bool:
    """Whether the candidate may take the seat (skill level and valid certification)."""
    if seat.certification and seat.certification not in candidate.certifications:
        return False
    if seat.skill:
        needed = max(1, seat.min_level - relaxed_by)
        return candidate.skills.get(seat.skill, 0) >= needed
    return True


def pair_cost(candidate: ResponderCandidate, seat: Seat, weights: ResponderWeights,
              relaxed_by: int = 0) -> float:
    """The cost of a feasible pair (see the module docstring)."""
    surplus = 0
    if seat.skill:
        surplus = candidate.skills.get(seat.skill, 0) - max(1, seat.min_level - relaxed_by)
    return (weights.eta * max(0.0, candidate.eta_minutes)
            + weights.surplus * max(0, surplus)
            + weights.fatigue * candidate.recent_deployments
            + weights.fairness * candidate.past_deployments)


def cost_matrix(candidates: Sequence[ResponderCandidate], seats: Sequence[Seat],
                weights: ResponderWeights, relaxed_by: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(cost, feasible) matrices of shape (responders, seats)."""
    cost = np.zeros((len(candidates), len(seats)))
    allowed = np.zeros((len(candidates), len(seats)), dtype=bool)
    for i, candidate in enumerate(candidates):
        for j, seat in enumerate(seats):
            if feasible(candidate, seat, relaxed_by):
                allowed[i, j] = True
                cost[i, j] = pair_cost(candidate, seat, weights, relaxed_by)
    return cost, allowed


def assign(candidates: Sequence[ResponderCandidate], seats: Sequence[Seat],
           weights: ResponderWeights | None = None, *,
           relaxed_by: int = 0) -> list[tuple[int, int]]:
    """Pairs (candidate index, seat index): most seats filled, then least total cost."""
    if not candidates or not seats:
        return []
    cost, allowed = cost_matrix(candidates, seats, weights or ResponderWeights(), relaxed_by)
    if not allowed.any():
        return []
    # Bigger than any sum of min(n, m) feasible costs: a fill is never traded for cost.
    pairs = min(len(candidates), len(seats))
    excluded = (float(cost[allowed].max()) + 1.0) * (pairs + 1)
    matrix = np.where(allowed, cost, excluded)
    rows, cols = linear_sum_assignment(matrix)
    return sorted((int(r), int(c)) for r, c in zip(rows, cols) if allowed[r, c])


def nearest_point(lat: float | None, lon: float | None,
                  points: Sequence[tuple[float | None, float | None]]) -> int | None:
    """Index of the point nearest to (lat, lon); the first point when either is unknown."""
    if not points:
        return None
    if lat is None or lon is None:
        return 0
    best, best_km = 0, math.inf
    for index, (p_lat, p_lon) in enumerate(points):
        if p_lat is None or p_lon is None:
            continue
        km = haversine_km(lat, lon, p_lat, p_lon)
        if km < best_km:
            best, best_km = index, km
    return best


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + \
        math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(a)))


__all__ = ["ResponderCandidate", "ResponderWeights", "Seat", "assign", "cost_matrix",
           "feasible", "nearest_point", "pair_cost"]
