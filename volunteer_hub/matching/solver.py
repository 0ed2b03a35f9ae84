"""Exact lexicographic assignment of volunteers to slots.

Objective, in order: fill as many slots as possible, prefer higher priorities
(an urgent slot is never left empty to fill a lower one), then least total cost.

Each slot row gets a private "unfilled" dummy column costing rank * (R + 1),
where R is the sum over the slot's connected component of each slot's
costliest edge. Any change between two matchings of one component decomposes
into alternating paths that add a slot, drop a slot, or swap one slot for
another, each shifting edge cost by at most R. So with these dummy costs a
min-cost full matching never trades a fill (or a higher-priority fill) for
cost, and among lexicographically best fillings it has least cost. The numbers
stay far below 2**53, so float64 inside scipy is exact.

One volunteer takes at most one slot per solve call, even if the slots don't
overlap in time: callers run another round (passing confirmed pairings as busy
intervals) to give someone a second slot.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, min_weight_full_bipartite_matching

from .candidates import (
    DEFAULT_MAX_CANDIDATES,
    RELATIONS,
    CandidateGraph,
    BoolArray,
    IntArray,
    SlotTable,
    VolunteerTable,
    build_candidate_graph,
    reason_name,
    vocabulary_for,
)
from .domain import (
    PREFERENCE_KINDS,
    PRIORITIES,
    Explanation,
    MatchResult,
    MatchStats,
    Pairing,
    Relation,
    Slot,
    Unfilled,
    Volunteer,
    Weights,
)

UNASSIGNED = -1


def component_cost_bound(graph: CandidateGraph, rows: IntArray, cols: IntArray) -> IntArray:
    """Per compact row: R of its connected component (see module docstring)."""
    return _component_bound(rows, cols, graph.cost)


def _component_bound(rows: IntArray, cols: IntArray, cost: IntArray) -> IntArray:
    n_rows, n_cols = int(rows.max()) + 1, int(cols.max()) + 1
    links = sp.coo_matrix((np.ones(len(rows)), (rows, n_rows + cols)), shape=(n_rows + n_cols,) * 2)
    _, labels = connected_components(links, directed=False)
    row_label = labels[:n_rows]
    costliest = np.zeros(n_rows, dtype=np.int64)
    np.maximum.at(costliest, rows, cost)
    bound = np.zeros(int(labels.max()) + 1, dtype=np.int64)
    np.add.at(bound, row_label, costliest)
    result: IntArray = bound[row_label]
    return result


def prune_above_private(graph: CandidateGraph) -> IntArray:
    """Exact presolve: indices of the edges that some optimum may still need.

    A volunteer only one slot can take ("private") is always free for that
    slot. So the slot never needs an edge costing at least as much as its
    cheapest private edge (ties: the graph's (slot, cost, volunteer) order):
    moving onto the private volunteer keeps every fill and never costs more,
    and for the same reason the slot never stays empty. Dropping those edges
    lowers other volunteers' degrees and makes them private in turn, so repeat
    until nothing changes. Only the cut rows' own options shrink, and each cut
    row keeps the private edge that dominates what it lost, so all the cuts
    hold together.
    """
    edges = np.arange(graph.n_edges)
    while len(edges):
        slot_idx, vol_idx = graph.slot_idx[edges], graph.vol_idx[edges]
        degree = np.bincount(vol_idx, minlength=graph.n_volunteers)
        private = np.flatnonzero(degree[vol_idx] == 1)
        if len(private) == 0:
            break
        first_private = private[np.r_[True, slot_idx[private][1:] != slot_idx[private][:-1]]]
        cutoff = np.full(graph.n_slots, len(edges), dtype=np.int64)
        cutoff[slot_idx[first_private]] = first_private
        keep = np.arange(len(edges)) <= cutoff[slot_idx]
        if keep.all():
            break
        edges = edges[keep]
    return edges


def _private_rows(graph: CandidateGraph, edges: IntArray) -> tuple[BoolArray, BoolArray]:
    """(slots with a private edge among edges, slots whose only edge is private)."""
    slot_idx, vol_idx = graph.slot_idx[edges], graph.vol_idx[edges]
    degree = np.bincount(vol_idx, minlength=graph.n_volunteers)
    with_private = np.zeros(graph.n_slots, dtype=bool)
    with_private[slot_idx[degree[vol_idx] == 1]] = True
    single = np.bincount(slot_idx, minlength=graph.n_slots) == 1
    return with_private, with_private & single


def fix_private_cheapest(graph: CandidateGraph) -> IntArray:
    """Volunteer index per slot fixed by the presolve (UNASSIGNED if left to the solve):
    slots left with only their private edge after prune_above_private."""
    fixed = np.full(graph.n_slots, UNASSIGNED, dtype=np.int64)
    edges = prune_above_private(graph)
    _, only_private = _private_rows(graph, edges)
    edges = edges[only_private[graph.slot_idx[edges]]]
    fixed[graph.slot_idx[edges]] = graph.vol_idx[edges]
    return fixed


def solve_assignment(graph: CandidateGraph) -> IntArray:
    """Volunteer index per slot (UNASSIGNED if left empty), lexicographically optimal."""
    assignment = np.full(graph.n_slots, UNASSIGNED, dtype=np.int64)
    edges = prune_above_private(graph)
    with_private, only_private = _private_rows(graph, edges)
    fixed = edges[only_private[graph.slot_idx[edges]]]
    assignment[graph.slot_idx[fixed]] = graph.vol_idx[fixed]
    edges = edges[~only_private[graph.slot_idx[edges]]]
    if len(edges) == 0:
        return assignment
    slot_ids, rows = np.unique(graph.slot_idx[edges], return_inverse=True)
    vol_ids, cols = np.unique(graph.vol_idx[edges], return_inverse=True)
    cost = graph.cost[edges]
    # Rows with a private edge are always filled, so only the others need the
    # "unfilled" column; its cost uses R of the reduced graph's components.
    open_rows = np.flatnonzero(~with_private[slot_ids])
    bound = _component_bound(rows, cols, cost)[open_rows]
    dummy_cost = graph.slot_rank[slot_ids[open_rows]] * (bound + 1)
    n_rows, n_cols = len(slot_ids), len(vol_ids)
    matrix = sp.csr_matrix(
        (
            np.concatenate((cost, dummy_cost)).astype(np.float64),
            (np.concatenate((rows, open_rows)), np.concatenate((cols, n_cols + np.arange(len(open_rows))))),
        ),
        shape=(n_rows, n_cols + len(open_rows)),
    )
    matched_rows, matched_cols = min_weight_full_bipartite_matching(matrix)
    real = matched_cols < n_cols
    assignment[slot_ids[matched_rows[real]]] = vol_ids[matched_cols[real]]
    return assignment


def greedy_assignment(graph: CandidateGraph) -> IntArray:
    """Baseline: slots by priority then id, each takes its nearest free candidate."""
    assignment = np.full(graph.n_slots, UNASSIGNED, dtype=np.int64)
    order = np.lexsort((graph.vol_idx, graph.distance_km, graph.slot_idx))
    slot_idx, vol_idx = graph.slot_idx[order], graph.vol_idx[order]
    bounds = np.searchsorted(slot_idx, np.arange(graph.n_slots + 1))
    taken = np.zeros(graph.n_volunteers, dtype=bool)
    for slot in np.lexsort((np.arange(graph.n_slots), -graph.slot_rank)):
        for vol in vol_idx[bounds[slot] : bounds[slot + 1]]:
            if not taken[vol]:
                taken[vol] = True
                assignment[slot] = vol
                break
    return assignment


def assignment_edges(graph: CandidateGraph, assignment: IntArray) -> IntArray:
    """Edge index in graph of each assigned slot (UNASSIGNED elsewhere)."""
    edges = np.full(graph.n_slots, UNASSIGNED, dtype=np.int64)
    chosen = assignment[graph.slot_idx] == graph.vol_idx
    edges[graph.slot_idx[chosen]] = np.flatnonzero(chosen)
    return edges


@dataclass(frozen=True)
class _Phase:
    graph: CandidateGraph
    assignment: IntArray
    candidate_seconds: float
    solve_seconds: float


def _run(
    slot_table: SlotTable, vol_table: VolunteerTable, weights: Weights, max_candidates: int, use_greedy: bool
) -> _Phase:
    t0 = time.perf_counter()
    graph = build_candidate_graph(slot_table, vol_table, weights, max_candidates=max_candidates)
    t1 = time.perf_counter()
    assignment = greedy_assignment(graph) if use_greedy else solve_assignment(graph)
    return _Phase(graph, assignment, t1 - t0, time.perf_counter() - t1)


def solve_tables(
    slot_table: SlotTable, vol_table: VolunteerTable, weights: Weights, *, max_candidates: int = DEFAULT_MAX_CANDIDATES
) -> _Phase:
    """Optimal assignment over columnar tables (what the service feeds): the graph, the
    volunteer index per slot row (UNASSIGNED if empty) and the two phases' seconds."""
    return _run(slot_table, vol_table, weights, max_candidates, use_greedy=False)


def unfilled_detail(slot: Slot, reason: str) -> str:
    if reason == "missing_skill":
        return "requires " + ", ".join(f"{code}>={level}" for code, level in sorted(slot.required_skills.items()))
    if reason == "missing_certification":
        return "requires valid " + ", ".join(sorted(slot.required_certifications))
    if reason == "none_within_distance" and slot.max_distance_km is not None:
        return f"within {slot.max_distance_km:g} km"
    if reason == "gender_mismatch":
        return f"gender {slot.same_gender}"
    return ""


def _result(
    slots: Sequence[Slot], volunteers: Sequence[Volunteer], phase: _Phase
) -> MatchResult:
    graph, assignment = phase.graph, phase.assignment
    edges = assignment_edges(graph, assignment)
    pairings: list[Pairing] = []
    unfilled: list[Unfilled] = []
    filled_by_priority: dict[str, int] = dict.fromkeys(PRIORITIES, 0)
    for row, slot in enumerate(slots):
        edge = int(edges[row])
        if edge == UNASSIGNED:
            reason = "no_volunteers" if not volunteers else reason_name(int(graph.reason[row]))
            unfilled.append(Unfilled(slot.id, reason, unfilled_detail(slot, reason)))
            continue
        volunteer = volunteers[int(graph.vol_idx[edge])]
        filled_by_priority[slot.priority] += 1
        pairings.append(Pairing(slot.id, volunteer.id, int(graph.cost[edge]), _explain(graph, edge, slot, volunteer)))
    return MatchResult(
        pairings=pairings,
        unfilled=unfilled,
        stats=MatchStats(
            slots=len(slots),
            volunteers=len(volunteers),
            candidate_edges=graph.n_edges,
            filled=len(pairings),
            filled_by_priority=filled_by_priority,
            total_cost=sum(p.cost for p in pairings),
            total_distance_km=sum(p.explanation.distance_km for p in pairings),
            candidate_seconds=phase.candidate_seconds,
            solve_seconds=phase.solve_seconds,
        ),
    )


def _explain(graph: CandidateGraph, edge: int, slot: Slot, volunteer: Volunteer) -> Explanation:
    relation: Relation = RELATIONS[int(graph.relation[edge])]  # type: ignore[assignment]
    return Explanation(
        relation=relation,
        distance_km=float(graph.distance_km[edge]),
        skills_matched={code: (volunteer.skills.get(code, 0), level) for code, level in sorted(slot.required_skills.items())},
        recent_load=volunteer.recent_load,
        continuity=bool(graph.continuity[edge]),
        preference_hit=bool(graph.preference[edge]),
        preference_misses=_missed_kinds(graph, edge),
    )


def _missed_kinds(graph: CandidateGraph, edge: int) -> tuple[str, ...]:
    if graph.preference_misses is None:
        return ()
    bits = int(graph.preference_misses[edge])
    return tuple(kind for i, kind in enumerate(PREFERENCE_KINDS) if bits >> i & 1)


def _solve(
    slots: Sequence[Slot],
    volunteers: Sequence[Volunteer],
    weights: Weights,
    max_candidates: int,
    use_greedy: bool,
) -> MatchResult:
    ordered_slots = sorted(slots, key=lambda s: s.id)
    ordered_vols = sorted(volunteers, key=lambda v: v.id)
    _check_unique_ids(ordered_slots, ordered_vols)
    vocabulary = vocabulary_for(ordered_slots, ordered_vols)
    slot_table = SlotTable.from_slots(ordered_slots, vocabulary)
    vol_table = VolunteerTable.from_volunteers(ordered_vols, vocabulary)
    phase = _run(slot_table, vol_table, weights, max_candidates, use_greedy)
    return _result(ordered_slots, ordered_vols, phase)


def _check_unique_ids(slots: Sequence[Slot], volunteers: Sequence[Volunteer]) -> None:
    for kind, ids in (("slot", [s.id for s in slots]), ("volunteer", [v.id for v in volunteers])):
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate {kind} ids")


def solve(
    slots: Sequence[Slot],
    volunteers: Sequence[Volunteer],
    weights: Weights | None = None,
    *,
    max_candidates: int = DEFAULT_MAX_CANDIDATES,
) -> MatchResult:
    """Optimal assignment; pairings and unfilled are ordered by slot id."""
    return _solve(slots, volunteers, weights or Weights(), max_candidates, use_greedy=False)


def greedy(
    slots: Sequence[Slot],
    volunteers: Sequence[Volunteer],
    weights: Weights | None = None,
    *,
    max_candidates: int = DEFAULT_MAX_CANDIDATES,
) -> MatchResult:
    """First-come-first-served baseline on the same candidate graph."""
    return _solve(slots, volunteers, weights or Weights(), max_candidates, use_greedy=True)


def rematch_slots(
    slots: Sequence[Slot],
    volunteers: Sequence[Volunteer],
    weights: Weights | None = None,
    *,
    slot_ids: Collection[int],
    locked: Sequence[Pairing] = (),
    exclude_volunteer_ids: Collection[int] = (),
    max_candidates: int = DEFAULT_MAX_CANDIDATES,
) -> MatchResult:
    """Re-solve only slot_ids. Locked pairings are returned untouched and their
    slots and volunteers are kept out of the re-solve, as are excluded
    volunteers (e.g. someone who declined). Stats describe the re-solve only."""
    locked_slots = {p.slot_id for p in locked}
    blocked = {p.volunteer_id for p in locked} | set(exclude_volunteer_ids)
    open_slots = [s for s in slots if s.id in slot_ids and s.id not in locked_slots]
    free_volunteers = [v for v in volunteers if v.id not in blocked]
    result = solve(open_slots, free_volunteers, weights, max_candidates=max_candidates)
    pairings = sorted([*locked, *result.pairings], key=lambda p: p.slot_id)
    return MatchResult(pairings=pairings, unfilled=result.unfilled, stats=result.stats)
