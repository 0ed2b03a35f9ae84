"""Continuity of a series: the occurrences of a recurring need, matched as one.

Elderly people and children should see the same face every week. A series (the j-th place
of each occurrence of one need in this solve) becomes one row of the assignment problem:
its edges are the volunteers feasible for every occurrence, each costing the sum of the
occurrences' costs, and its weight is the sum of their priority ranks. A series nobody can
take whole is first split (split_series): the candidate feasible for the most remaining
occurrences takes a part, while two or more remain; leftovers are single slots. Given those
rows the solve is solver.solve_assignment's, so it is exact for this objective, in order:

1. the most priority-weighted fills, a series (or part) counting each of its occurrences;
2. the least total cost;

subject to every (part of a) series going to one volunteer or, if it stays empty, to the
service's next round, where its occurrences go one by one.

The split needs as few people as the constraints allow: its parts come from a minimum set
cover of the occurrences that anyone can take, by the candidates' feasible sets (exact:
enumeration of covers by size while that tries at most EXACT_ENUMERATION_LIMIT of them, an
integer program (scipy's HiGHS milp) beyond; only if that fails, the greedy cover). An
occurrence that several chosen candidates can take goes to the smallest part so far, so
that parts of one occurrence (which then go one by one) are rare.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from datetime import datetime
from itertools import combinations
from math import comb

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
    series: IntArray  # per slot row, the series as solved (split where nobody takes one whole)


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


@dataclass(frozen=True)
class _Occurrences:
    """Every (occurrence, candidate) pair of the series, evaluated under all the rules:
    pairs are grouped by (series, volunteer) candidate, counts[k] occurrences each."""

    cand: IntArray  # (k, 2): series id, volunteer index
    counts: IntArray
    row: IntArray
    ok: np.ndarray
    relation: IntArray
    km: np.ndarray

    @property
    def starts(self) -> IntArray:
        return np.concatenate(([0], np.cumsum(self.counts)[:-1])).astype(np.int64)

    def whole(self) -> np.ndarray:
        """Per candidate: feasible for every occurrence of its series."""
        return np.logical_and.reduceat(self.ok, self.starts) if len(self.cand) else np.zeros(0, bool)


def _occurrences(slots: SlotTable, vols: VolunteerTable, graph: CandidateGraph, series: IntArray) -> _Occurrences:
    in_series = series[graph.slot_idx] != NO_SERIES
    cand = np.unique(np.column_stack((series[graph.slot_idx[in_series]], graph.vol_idx[in_series])), axis=0)
    if len(cand) == 0:
        empty = np.empty(0, np.int64)
        return _Occurrences(cand.reshape(0, 2), empty, empty, np.zeros(0, bool), empty, np.zeros(0))
    rows_of = {int(s): np.flatnonzero(series == s) for s in np.unique(cand[:, 0])}
    counts = np.array([len(rows_of[int(s)]) for s in cand[:, 0]], dtype=np.int64)
    pair_vol = np.repeat(cand[:, 1], counts)
    pair_row = np.concatenate([rows_of[int(s)] for s in cand[:, 0]])
    idx, rel, km = feasible_subset(slots, vols, pair_row, pair_vol)
    ok = np.zeros(len(pair_row), dtype=bool)
    ok[idx] = True
    rel_all = np.zeros(len(pair_row), dtype=np.int64)
    km_all = np.zeros(len(pair_row))
    rel_all[idx], km_all[idx] = rel, km
    return _Occurrences(cand, counts, pair_row, ok, rel_all, km_all)


def split_series(series: IntArray, occurrences: _Occurrences) -> IntArray:
    """Series nobody can take whole are split into the fewest parts each of which one
    candidate can take (fewest_parts); a part of one occurrence goes alone."""
    whole = occurrences.whole()
    split = series.copy()
    next_id = int(series.max()) + 1 if len(series) else 0
    cands_of: dict[int, list[int]] = defaultdict(list)
    for k, (series_id, _) in enumerate(occurrences.cand):
        cands_of[int(series_id)].append(k)
    for series_id, ks in cands_of.items():
        if whole[ks].any():
            continue
        rows = occurrences.row[occurrences.starts[ks[0]]: occurrences.starts[ks[0]] + occurrences.counts[ks[0]]]
        masks = [occurrences.ok[occurrences.starts[k]: occurrences.starts[k] + occurrences.counts[k]] for k in ks]
        split[rows] = NO_SERIES
        for part in parts_of(masks, fewest_parts(masks)):
            if part.sum() >= 2:
                split[rows[part]] = next_id
                next_id += 1
    return split


EXACT_ENUMERATION_LIMIT = 20_000  # covers tried by size before the integer program


def _bits(mask: np.ndarray) -> int:
    return sum(1 << int(i) for i in np.flatnonzero(mask))


def fewest_parts(masks: Sequence[np.ndarray]) -> list[int]:
    """Indices of the fewest masks whose union is the union of all (a minimum set cover;
    ties: masks with more occurrences, then lower indices)."""
    bits = [_bits(m) for m in masks]
    target = 0
    for b in bits:
        target |= b
    if target == 0:
        return []
    # Only maximal sets can be needed: a subset of another (or a duplicate) never helps.
    order = sorted(range(len(bits)), key=lambda i: (-bits[i].bit_count(), i))
    maximal: list[int] = []
    for i in order:
        if not any(bits[i] | bits[j] == bits[j] for j in maximal):
            maximal.append(i)
    lower = -(-target.bit_count() // bits[maximal[0]].bit_count())
    tried = 0
    for size in range(lower, len(maximal) + 1):
        tried += comb(len(maximal), size)
        if tried > EXACT_ENUMERATION_LIMIT:
            return _cover_by_milp(masks, maximal) or _greedy_cover(bits, maximal, target)
        for chosen in combinations(maximal, size):
            union = 0
            for i in chosen:
                union |= bits[i]
            if union == target:
                return list(chosen)
    return maximal  # not reached: all maximal sets cover the target


def _cover_by_milp(masks: Sequence[np.ndarray], candidates: list[int]) -> list[int] | None:
    """The minimum cover as a 0/1 program: min sum(x) with every coverable occurrence
    covered at least once. None when the solver gives no proven optimum."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    a = np.column_stack([masks[i] for i in candidates]).astype(float)
    needed = a.any(axis=1)
    result = milp(c=np.ones(len(candidates)), integrality=np.ones(len(candidates)), bounds=Bounds(0, 1),
                  constraints=LinearConstraint(a[needed], lb=1, ub=np.inf), options={"time_limit": 5})
    if result.status != 0 or result.x is None:
        return None
    return [candidates[j] for j in np.flatnonzero(result.x > 0.5)]


def _greedy_cover(bits: list[int], candidates: list[int], target: int) -> list[int]:
    chosen, left = [], target
    while left:
        best = max(candidates, key=lambda i: ((bits[i] & left).bit_count(), -i))
        chosen.append(best)
        left &= ~bits[best]
    return chosen


def parts_of(masks: Sequence[np.ndarray], chosen: list[int]) -> list[np.ndarray]:
    """Disjoint parts, one per chosen mask: an occurrence only one chosen mask can take goes
    to it, one that several can take to the smallest part so far."""
    if not chosen:
        return []
    allowed = np.column_stack([masks[i] for i in chosen])
    parts = np.zeros_like(allowed)
    sole = allowed.sum(axis=1) == 1
    parts[sole] = allowed[sole]
    for occurrence in np.flatnonzero(allowed.sum(axis=1) > 1):
        sizes = np.where(allowed[occurrence], parts.sum(axis=0), np.iinfo(np.int64).max)
        parts[occurrence, int(np.argmin(sizes))] = True
    return [parts[:, j] for j in range(len(chosen))]


def _whole_series_pairs(
    slots: SlotTable, vols: VolunteerTable, weights: Weights, graph: CandidateGraph, occ: _Occurrences
) -> tuple[IntArray, IntArray, IntArray, _Facts | None]:
    """(series id, volunteer, summed cost) of every candidate feasible for every occurrence
    of its series, with the facts of each occurrence's pair."""
    if len(occ.cand) == 0:
        empty = np.empty(0, np.int64)
        return empty, empty, empty, None
    whole = occ.whole()
    keep_pair = np.repeat(whole, occ.counts)
    r, v = occ.row[keep_pair], np.repeat(occ.cand[:, 1], occ.counts)[keep_pair]
    km_kept, rel_kept = occ.km[keep_pair], occ.relation[keep_pair]
    cost, continuity, preference, misses = pair_costs(slots, vols, weights, r, v, km_kept)
    cost = cost + _demand_units(weights, graph, v)
    facts = _Facts(r * len(vols) + v, cost, km_kept, rel_kept, continuity, preference, misses)
    summed = np.add.reduceat(cost, np.concatenate(([0], np.cumsum(occ.counts[whole])[:-1]))) if whole.any() else cost[:0]
    return occ.cand[whole, 0], occ.cand[whole, 1], summed.astype(np.int64), facts


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

    @cached_property
    def _order(self) -> IntArray:
        return np.argsort(self.key, kind="stable")

    def of(self, row: int, volunteer: int, n_vols: int) -> PairFacts:
        # A binary search: a scan of every pair per bundled occurrence grew with the square.
        order = self._order
        i = int(order[np.searchsorted(self.key[order], row * n_vols + volunteer)])
        return PairFacts(int(self.cost[i]), float(self.km[i]), int(self.relation[i]),
                         bool(self.continuity[i]), bool(self.preference[i]), int(self.misses[i]))


def solve_with_series(
    slots: SlotTable, vols: VolunteerTable, weights: Weights, series: IntArray, *, max_candidates: int = 50
) -> SeriesSolve:
    """Exact solve where each series with a volunteer feasible for every occurrence is one
    row (see the module docstring). series: per slot row, a series id or NO_SERIES."""
    original = series
    graph = build_candidate_graph(slots, vols, weights, max_candidates=max_candidates)
    first = _occurrences(slots, vols, graph, series)
    whole_feasible = np.unique(first.cand[first.whole(), 0])
    series = split_series(series, first)
    occurrences = first if (series == original).all() else _occurrences(slots, vols, graph, series)
    b_series, b_vol, b_cost, facts = _whole_series_pairs(slots, vols, weights, graph, occurrences)
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
                       whole_feasible, np.array(left, dtype=np.int64), series)
