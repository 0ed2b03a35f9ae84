"""The fast paths (lazy rule evaluation, packed sort key, exact presolve) agree
with the straightforward formulations they replace."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

from volunteer_hub.matching import SlotTable, VolunteerTable, Weights, build_candidates, solve_assignment, vocabulary_for
from volunteer_hub.matching import candidates as c
from volunteer_hub.matching.solver import UNASSIGNED, component_cost_bound, fix_private_cheapest, prune_above_private

from ._factories import random_instance


def tables(seed: int, n_slots: int, n_vols: int, **kw: object) -> tuple[SlotTable, VolunteerTable]:
    slots, vols = random_instance(seed, n_slots, n_vols, **kw)  # type: ignore[arg-type]
    vocab = vocabulary_for(slots, vols)
    return SlotTable.from_slots(slots, vocab), VolunteerTable.from_volunteers(vols, vocab)


@pytest.mark.parametrize("seed", range(6))
def test_feasible_subset_equals_all_rule_masks(seed: int) -> None:
    st, vt = tables(seed, 30, 80, loose=bool(seed % 2))
    si, vi = (a.ravel() for a in np.meshgrid(np.arange(len(st)), np.arange(len(vt)), indexing="ij"))
    rel = c.relation_codes(st, vt, si, vi)
    km = c.pair_distances_km(st, vt, si, vi, rel)
    expected = np.flatnonzero(np.logical_and.reduce(c.rule_masks(st, vt, si, vi, rel, km)))
    idx, fast_rel, fast_km = c.feasible_subset(st, vt, si, vi)
    assert np.array_equal(idx, expected)
    assert np.array_equal(fast_rel, rel[expected]) and np.array_equal(fast_km, km[expected])


def test_packed_sort_key_matches_lexsort() -> None:
    rng = np.random.default_rng(3)
    si = rng.integers(0, 50, 5000)
    cost = rng.integers(1, 40, 5000)
    vi = rng.integers(0, 300, 5000)
    expected = np.lexsort((vi, cost, si))
    got = c._slot_cost_volunteer_order(si, cost, vi, 50, 300)
    keys = np.column_stack((si, cost, vi))
    assert np.array_equal(keys[got], keys[expected])
    # Too wide for 63 bits: falls back to lexsort.
    huge = cost * (1 << 50)
    assert np.array_equal(c._slot_cost_volunteer_order(si, huge, vi, 50, 300), np.lexsort((vi, huge, si)))


def reference_assignment(graph: c.CandidateGraph) -> np.ndarray:
    """The solve without presolve: one sparse LAP over every slot with an edge."""
    assignment = np.full(graph.n_slots, UNASSIGNED, dtype=np.int64)
    slot_ids, rows = np.unique(graph.slot_idx, return_inverse=True)
    vol_ids, cols = np.unique(graph.vol_idx, return_inverse=True)
    n_r, n_c = len(slot_ids), len(vol_ids)
    dummy = graph.slot_rank[slot_ids] * (component_cost_bound(graph, rows, cols) + 1)
    matrix = sp.csr_matrix(
        (np.concatenate((graph.cost, dummy)).astype(float), (np.r_[rows, np.arange(n_r)], np.r_[cols, n_c + np.arange(n_r)])),
        shape=(n_r, n_c + n_r),
    )
    r, col = min_weight_full_bipartite_matching(matrix)
    real = col < n_c
    assignment[slot_ids[r[real]]] = vol_ids[col[real]]
    return assignment


def objective(graph: c.CandidateGraph, assignment: np.ndarray) -> tuple[tuple[int, ...], int]:
    chosen = assignment[graph.slot_idx] == graph.vol_idx
    fill = tuple(int(np.sum(graph.slot_rank[assignment >= 0] == r)) for r in (3, 2, 1))
    return fill, int(graph.cost[chosen].sum())


def test_presolve_keeps_the_optimum() -> None:
    fixed_total = 0
    for seed in range(8):
        fixed_total += presolve_case(seed)
    assert fixed_total > 0  # the presolve actually fires on these instances


def presolve_case(seed: int) -> int:
    st, vt = tables(900 + seed, 60, 150, spread_km=2.0)
    graph = build_candidates(st, vt, Weights(), max_candidates=4 + seed)
    fixed = fix_private_cheapest(graph)
    assignment = solve_assignment(graph)
    # Fixed pairs are kept, every volunteer used once, and the optimum is unchanged.
    assert np.array_equal(assignment[fixed != UNASSIGNED], fixed[fixed != UNASSIGNED])
    used = assignment[assignment != UNASSIGNED]
    assert len(np.unique(used)) == len(used)
    assert objective(graph, assignment) == objective(graph, reference_assignment(graph))
    return int(np.sum(fixed != UNASSIGNED))


def test_presolve_chain_and_ties() -> None:
    # Slot 0: cheapest vol 0 (private). Slot 1: cheapest vol 1 shared with slot 2
    # until ... slot 2's cheapest vol 2 is private. Ties go to the lowest index.
    graph = c.CandidateGraph(
        n_slots=3, n_volunteers=4,
        slot_idx=np.array([0, 0, 1, 1, 2, 2]), vol_idx=np.array([0, 1, 1, 3, 2, 1]),
        cost=np.array([5, 9, 4, 4, 1, 7]), distance_km=np.zeros(6), relation=np.zeros(6, np.int64),
        continuity=np.zeros(6, bool), preference=np.zeros(6, bool),
        slot_rank=np.array([1, 1, 1]), reason=np.full(3, c.NO_REASON),
    )  # fmt: skip
    fixed = fix_private_cheapest(graph)
    # Round 1: slots 0 and 2 (private cheapest); round 2: vol 1 now private to slot 1.
    assert fixed.tolist() == [0, 1, 2]
    assert solve_assignment(graph).tolist() == [0, 1, 2]
    tie = replace(graph, cost=np.array([5, 9, 4, 4, 1, 7]), vol_idx=np.array([0, 1, 3, 1, 2, 1]))
    # Slot 1's first edge (vol 3, private) is taken even though vol 1 costs the same.
    assert fix_private_cheapest(tie).tolist() == [0, 3, 2]


def random_graph(seed: int) -> c.CandidateGraph:
    """Sparse random graph with many private volunteers and tied costs."""
    rng = np.random.default_rng(seed)
    n_slots, n_vols = 40, int(rng.integers(20, 90))
    degree = rng.integers(1, 6, n_slots)
    si = np.repeat(np.arange(n_slots), degree)
    vi = rng.integers(0, n_vols, len(si))
    cost = rng.integers(1, 12, len(si))
    keep = np.unique(si * n_vols + vi, return_index=True)[1]  # one edge per pair
    si, vi, cost = si[keep], vi[keep], cost[keep]
    order = np.lexsort((vi, cost, si))
    n = len(order)
    return c.CandidateGraph(
        n_slots=n_slots, n_volunteers=n_vols, slot_idx=si[order], vol_idx=vi[order], cost=cost[order],
        distance_km=np.zeros(n), relation=np.zeros(n, np.int64), continuity=np.zeros(n, bool),
        preference=np.zeros(n, bool), slot_rank=rng.integers(1, 4, n_slots), reason=np.full(n_slots, c.NO_REASON),
    )  # fmt: skip


def test_pruning_above_private_edges_keeps_the_optimum() -> None:
    pruned_somewhere = 0
    for seed in range(300):
        graph = random_graph(seed)
        kept = prune_above_private(graph)
        pruned_somewhere += len(kept) < graph.n_edges
        assignment = solve_assignment(graph)
        used = assignment[assignment != UNASSIGNED]
        assert len(np.unique(used)) == len(used), seed
        on_edges = assignment[graph.slot_idx] == graph.vol_idx
        assert on_edges.sum() == len(used), seed  # every pairing is a candidate edge
        assert objective(graph, assignment) == objective(graph, reference_assignment(graph)), seed
    assert pruned_somewhere > 100
