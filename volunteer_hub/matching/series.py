"""Continuity of a series: the occurrences of a recurring need, matched as one.

Elderly people and children should see the same face every week. A series (the slots of
one need and position in this solve) becomes one row of the assignment problem, its
edges the volunteers feasible for every occurrence, costing the sum of the occurrences'
costs, and its weight the sum of their priority ranks. Everything else is as in
solver.solve_assignment, so the solve is exact for this objective, in order:

1. the most priority-weighted fills, a series counting each of its occurrences;
2. the least total cost;

with every series that has a volunteer feasible for all its occurrences either given to
one such volunteer or left to the next round, where its occurrences go one by one (the
service's later rounds). A series nobody can take whole is matched occurrence by
occurrence from the start.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from .candidates import (
    CandidateGraph,
    IntArray,
    SlotTable,
    VolunteerTable,
    _slot_cost_volunteer_order,
    build_candidate_graph,
    feasible_subset,
    pair_costs,
)
from .domain import COST_POINTS_SCALE, Slot, Weights
from .solver import UNASSIGNED, assignment_edges, solve_assignment

NO_SERIES = -1


@dataclass(frozen=True)
class PairFacts:
    """What explains one (slot row, volunteer index) pair of a bundled series."""

    cost: int
    km: float
    relation: int
    continuity: bool
    preference: bool
    misses: int


@dataclass(frozen=True)
class SeriesSolve:
    graph: CandidateGraph  # the plain candidate graph (single slots, reasons)
    assignment: IntArray  # volunteer index per slot row, UNASSIGNED if empty
    single_edges: IntArray  # per slot row: edge in graph when filled as a single slot
    bundled: dict[tuple[int, int], PairFacts]  # (slot row, volunteer) of rows filled as a series
    whole_feasible: IntArray  # series ids with a volunteer feasible for every occurrence
    series_left: IntArray  # slot rows of series that had such a volunteer but stayed empty


def series_of(slots: Sequence[Slot]) -> IntArray:
    """Per slot, its series id (NO_SERIES if alone): the j-th place of each occurrence of
    one need, when the need has several occurrences among these slots."""
    by_need: dict[int, dict[datetime, list[tuple[int, int]]]] = defaultdict(lambda: defaultdict(list))
    for row, slot in enumerate(slots):
        by_need[slot.need_id][slot.start].append((slot.id, row))
    series = np.full(len(slots), NO_SERIES, dtype=np.int64)
    next_id = 0
    for occurrences in by_need.values():
        if len(occurrences) < 2:
            continue
        places = [sorted(rows) for rows in occurrences.values()]
        for j in range(max(len(p) for p in places)):
            members = [p[j][1] for p in places if len(p) > j]
            if len(members) > 1:
                series[members] = next_id
                next_id += 1
    return series


def _demand_units(weights: Weights, graph: CandidateGraph, vi: IntArray) -> IntArray:
    """The demand term of candidates.demand_costs, for any pairs, from the graph's lists."""
    if weights.demand <= 0 or graph.n_edges == 0:
        return np.zeros(len(vi), dtype=np.int64)
    demand = np.bincount(graph.vol_idx, minlength=graph.n_volunteers)
    mean = graph.n_edges / int(np.count_nonzero(demand))
    return np.rint(weights.demand * np.sqrt(demand[vi] / mean) * COST_POINTS_SCALE).astype(np.int64)


def _whole_series_pairs(
    slots: SlotTable, vols: VolunteerTable, weights: Weights, graph: CandidateGraph, series: IntArray
) -> tuple[IntArray, IntArray, IntArray, _Facts | None]:
    """(series id, volunteer, summed cost) of every volunteer who is a candidate of some
    occurrence and feasible for all of them, with the facts of each occurrence's pair."""
    in_series = series[graph.slot_idx] != NO_SERIES
    cand = np.unique(np.column_stack((series[graph.slot_idx[in_series]], graph.vol_idx[in_series])), axis=0)
    if len(cand) == 0:
        empty = np.empty(0, np.int64)
        return empty, empty, empty, None
    rows_of = {int(s): np.flatnonzero(series == s) for s in np.unique(cand[:, 0])}
    # Every (occurrence, candidate) pair of the series, evaluated under all the rules.
    counts = np.array([len(rows_of[int(s)]) for s in cand[:, 0]])
    pair_series = np.repeat(cand[:, 0], counts)
    pair_vol = np.repeat(cand[:, 1], counts)
    pair_row = np.concatenate([rows_of[int(s)] for s in cand[:, 0]])
    idx, rel, km = feasible_subset(slots, vols, pair_row, pair_vol)
    ok = np.zeros(len(pair_row), dtype=bool)
    ok[idx] = True
    rel_all = np.zeros(len(pair_row), dtype=np.int64)
    km_all = np.zeros(len(pair_row))
    rel_all[idx], km_all[idx] = rel, km
    start = np.concatenate(([0], np.cumsum(counts)[:-1]))
    whole = np.logical_and.reduceat(ok, start)
    keep_pair = np.repeat(whole, counts)
    r, v, s = pair_row[keep_pair], pair_vol[keep_pair], pair_series[keep_pair]
    km_kept, rel_kept = km_all[keep_pair], rel_all[keep_pair]
    cost, continuity, preference, misses = pair_costs(slots, vols, weights, r, v, km_kept)
    cost = cost + _demand_units(weights, graph, v)
    facts = _Facts(r * len(vols) + v, cost, km_kept, rel_kept, continuity, preference, misses)
    summed = np.add.reduceat(cost, np.concatenate(([0], np.cumsum(counts[whole])[:-1]))) if whole.any() else cost[:0]
    return cand[whole, 0], cand[whole, 1], summed.astype(np.int64), facts


@dataclass(frozen=True)
class _Facts:
    """Columns of the occurrence pairs of whole-feasible series, keyed row * n_vols + vol."""

    key: IntArray
    cost: IntArray
    km: np.ndarray
    relation: IntArray
    continuity: np.ndarray
    preference: np.ndarray
    misses: IntArray

    def of(self, row: int, volunteer: int, n_vols: int) -> PairFacts:
        i = int(np.flatnonzero(self.key == row * n_vols + volunteer)[0])
        return PairFacts(int(self.cost[i]), float(self.km[i]), int(self.relation[i]),
                         bool(self.continuity[i]), bool(self.preference[i]), int(self.misses[i]))


def solve_with_series(
    slots: SlotTable, vols: VolunteerTable, weights: Weights, series: IntArray, *, max_candidates: int = 50
) -> SeriesSolve:
    """Exact solve where each series with a volunteer feasible for every occurrence is one
    row (see the module docstring). series: per slot row, a series id or NO_SERIES."""
    graph = build_candidate_graph(slots, vols, weights, max_candidates=max_candidates)
    b_series, b_vol, b_cost, facts = _whole_series_pairs(slots, vols, weights, graph, series)
    bundle_ids = np.unique(b_series)
    bundled_rows = np.isin(series, bundle_ids)
    single_rows = np.flatnonzero(~bundled_rows)
    # Rows of the combined problem: single slots first, then one per bundled series.
    row_of_slot = np.full(len(slots), -1, dtype=np.int64)
    row_of_slot[single_rows] = np.arange(len(single_rows))
    keep = ~bundled_rows[graph.slot_idx]
    n_rows = len(single_rows) + len(bundle_ids)
    si = np.concatenate((row_of_slot[graph.slot_idx[keep]], len(single_rows) + np.searchsorted(bundle_ids, b_series)))
    vi = np.concatenate((graph.vol_idx[keep], b_vol))
    cost = np.concatenate((graph.cost[keep], b_cost))
    rank = np.concatenate((graph.slot_rank[single_rows], [int(graph.slot_rank[series == s].sum()) for s in bundle_ids]))
    order = _slot_cost_volunteer_order(si, cost, vi, max(n_rows, 1), max(len(vols), 1))
    combined = CandidateGraph(
        n_slots=n_rows, n_volunteers=len(vols), slot_idx=si[order], vol_idx=vi[order], cost=cost[order],
        distance_km=np.zeros(len(order)), relation=np.zeros(len(order), np.int64),
        continuity=np.zeros(len(order), bool), preference=np.zeros(len(order), bool),
        slot_rank=rank.astype(np.int64), reason=np.zeros(n_rows, np.int64),
    )
    chosen = solve_assignment(combined)
    assignment = np.full(len(slots), UNASSIGNED, dtype=np.int64)
    assignment[single_rows] = chosen[: len(single_rows)]
    bundled: dict[tuple[int, int], PairFacts] = {}
    left: list[int] = []
    for k, series_id in enumerate(bundle_ids):
        rows = np.flatnonzero(series == series_id)
        volunteer = int(chosen[len(single_rows) + k])
        if volunteer == UNASSIGNED:
            left.extend(rows.tolist())
            continue
        assignment[rows] = volunteer
        assert facts is not None
        bundled.update({(int(r), volunteer): facts.of(int(r), volunteer, len(vols)) for r in rows})
    single_assignment = np.where(bundled_rows, UNASSIGNED, assignment)
    return SeriesSolve(graph, assignment, assignment_edges(graph, single_assignment), bundled,
                       bundle_ids, np.array(left, dtype=np.int64))
