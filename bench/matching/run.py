"""Benchmark: python -m bench.matching.run [--sizes small,medium,large] [--reps 3]"""

from __future__ import annotations

import argparse
import platform
import resource
import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

from volunteer_hub.matching import Weights, build_candidates, greedy_assignment, solve_assignment
from volunteer_hub.matching.candidates import CandidateGraph
from volunteer_hub.matching.solver import UNASSIGNED, component_cost_bound

from .generate import SIZES, make_city, make_slots, make_volunteers, table_bytes, with_load

ROUNDS = 8


CPU_SECONDS: list[float] = []  # process CPU time of each timed() call, both cores summed


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    CPU_SECONDS.append(time.process_time() - c0)
    return out, time.perf_counter() - t0


def summary(graph: CandidateGraph, assignment: np.ndarray) -> dict[str, Any]:
    chosen = assignment[graph.slot_idx] == graph.vol_idx
    return {
        "filled": int(np.sum(assignment != UNASSIGNED)),
        "by_priority": tuple(int(np.sum(graph.slot_rank[assignment != UNASSIGNED] == r)) for r in (3, 2, 1)),
        "cost": int(graph.cost[chosen].sum()),
        "distance_km": float(graph.distance_km[chosen].sum()),
    }


def ortools_assignment(graph: CandidateGraph) -> tuple[np.ndarray, float, float] | None:
    """Same objective (same dummy costs) as a min-cost flow in OR-Tools."""
    try:
        from ortools.graph.python import min_cost_flow
    except ImportError:
        return None
    t0 = time.perf_counter()
    assignment = np.full(graph.n_slots, UNASSIGNED, dtype=np.int64)
    slot_ids, rows = np.unique(graph.slot_idx, return_inverse=True)
    vol_ids, cols = np.unique(graph.vol_idx, return_inverse=True)
    n_r, n_c = len(slot_ids), len(vol_ids)
    dummy = graph.slot_rank[slot_ids] * (component_cost_bound(graph, rows, cols) + 1)
    source, sink = n_r + n_c, n_r + n_c + 1
    tails = np.concatenate((np.full(n_r, source), rows, n_r + np.arange(n_c), np.arange(n_r)))
    heads = np.concatenate((np.arange(n_r), n_r + cols, np.full(n_c, sink), np.full(n_r, sink)))
    costs = np.concatenate((np.zeros(n_r), graph.cost, np.zeros(n_c), dummy)).astype(np.int64)
    flow = min_cost_flow.SimpleMinCostFlow()
    arcs = flow.add_arcs_with_capacity_and_unit_cost(tails, heads, np.ones(len(tails), dtype=np.int64), costs)
    flow.set_nodes_supplies(np.array([source, sink]), np.array([n_r, -n_r]))
    build = time.perf_counter() - t0
    t1 = time.perf_counter()
    status = flow.solve()
    solve = time.perf_counter() - t1
    assert status == flow.OPTIMAL, status
    edge_arcs = arcs[n_r : n_r + len(rows)]
    used = flow.flows(edge_arcs) > 0
    assignment[graph.slot_idx[used]] = graph.vol_idx[used]
    return assignment, build, solve


def gini(counts: np.ndarray) -> float:
    if len(counts) == 0 or counts.sum() == 0:
        return 0.0
    x = np.sort(counts.astype(np.float64))
    n = len(x)
    return float((2 * np.arange(1, n + 1) - n - 1) @ x / (n * x.sum()))


Method = Callable[[CandidateGraph], np.ndarray]


def fairness_label(w: Weights) -> str:
    return f"load {w.load:g} x load^{w.load_exponent:g}, demand {w.demand:g}"


def fairness_rounds(
    n_slots: int, n_vols: int, seed: int, extra: dict[str, tuple[Weights, Method]] | None = None
) -> dict[str, dict[str, float]]:
    """8 weekly rounds; recent_load accumulates each method's own assignments."""
    city = make_city(n_vols, seed)
    base = make_volunteers(city, n_vols, seed)
    default = Weights()
    # The reference has no fairness term at all: neither load nor demand.
    unfair = Weights(load=0.0, demand=0.0)
    methods: dict[str, tuple[Weights, Method]] = {
        f"optimal (default, {fairness_label(default)})": (default, solve_assignment),
        "optimal (no load or demand term)": (unfair, solve_assignment),
        "greedy nearest (load weight 0)": (unfair, greedy_assignment),
        **(extra or {}),
    }
    out = {}
    for name, (weights, method) in methods.items():
        counts = np.zeros(n_vols, dtype=np.int64)
        eligible = np.zeros(n_vols, dtype=bool)
        filled, travel = 0, 0.0
        for r in range(ROUNDS):
            slots = make_slots(city, n_slots, seed + 100 * (r + 1))
            graph = build_candidates(slots, with_load(base, counts), weights)
            assignment = method(graph)
            eligible[graph.vol_idx] = True
            s = summary(graph, assignment)
            filled += s["filled"]
            travel += s["distance_km"]
            counts[assignment[assignment != UNASSIGNED]] += 1
        out[name] = {"gini": gini(counts[eligible]), "filled": filled, "travel_km": travel,
                     "km_per_fill": travel / max(filled, 1), "counts": counts, "eligible": eligible}
    # The eligible pool grows with the load weight (the 50 cheapest candidates of a slot
    # then include more people); the same Gini over the no-load run's pool is method-free.
    pool = out["optimal (no load or demand term)"]["eligible"]
    for f in out.values():
        f["gini_fixed_pool"] = gini(f.pop("counts")[pool])
        f["pool"] = int(f.pop("eligible").sum())
    return out


def bench_size(name: str, reps: int, seed: int) -> dict[str, Any]:
    n_slots, n_vols = SIZES[name]
    city = make_city(n_vols, seed)
    vols = make_volunteers(city, n_vols, seed)
    slots = make_slots(city, n_slots, seed)
    weights = Weights()
    cand_t, solve_t, greedy_t, cand_cpu, solve_cpu = [], [], [], [], []
    graph = assignment = None
    for _ in range(reps):
        vols = with_load(vols, vols.recent_load)  # fresh table: cached lookups are rebuilt every rep
        graph, t = timed(lambda: build_candidates(slots, vols, weights))
        cand_t.append(t)
        cand_cpu.append(CPU_SECONDS[-1])
        assignment, t = timed(lambda: solve_assignment(graph))
        solve_t.append(t)
        solve_cpu.append(CPU_SECONDS[-1])
        _, t = timed(lambda: greedy_assignment(graph))
        greedy_t.append(t)
    assert graph is not None and assignment is not None
    vols = with_load(vols, vols.recent_load)
    tracemalloc.start()
    traced_graph = build_candidates(slots, vols, weights)
    solve_assignment(traced_graph)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    result: dict[str, Any] = {
        "size": f"{n_slots} x {n_vols}",
        "edges": graph.n_edges,
        "candidates_s": statistics.median(cand_t),
        "solve_s": statistics.median(solve_t),
        "greedy_s": statistics.median(greedy_t),
        "candidates_cpu_s": statistics.median(cand_cpu),
        "solve_cpu_s": statistics.median(solve_cpu),
        "engine_peak_mib": peak / 2**20,
        "input_tables_mib": (table_bytes(vols) + table_bytes(slots)) / 2**20,
        "optimal": summary(graph, assignment),
        "greedy": summary(graph, greedy_assignment(graph)),
    }
    ort = [ortools_assignment(graph) for _ in range(reps)]
    if ort[0] is not None:
        result["ortools_build_s"] = statistics.median(o[1] for o in ort if o)
        result["ortools_solve_s"] = statistics.median(o[2] for o in ort if o)
        result["ortools"] = summary(graph, ort[0][0])
    result["maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def report(name: str, r: dict[str, Any]) -> None:
    opt, gr = r["optimal"], r["greedy"]
    end_to_end = r["candidates_s"] + r["solve_s"]
    print(f"\n== {name}: {r['size']} (slots x volunteers), {r['edges']} candidate edges")
    print(f"candidate generation  {r['candidates_s']:.3f} s   solve {r['solve_s']:.3f} s   greedy {r['greedy_s']:.3f} s")
    print(f"CPU time (both cores): candidates {r['candidates_cpu_s']:.3f} s   solve {r['solve_cpu_s']:.3f} s")
    print(f"end-to-end / candidates = {end_to_end / r['candidates_s']:.2f}  (target <= 2)")
    print(f"engine peak (tracemalloc) {r['engine_peak_mib']:.0f} MiB; input tables {r['input_tables_mib']:.0f} MiB; process maxrss {r['maxrss_mib']:.0f} MiB")
    print(f"optimal: filled {opt['filled']} {opt['by_priority']} cost {opt['cost']} distance {opt['distance_km']:.1f} km")
    print(f"greedy : filled {gr['filled']} {gr['by_priority']} cost {gr['cost']} distance {gr['distance_km']:.1f} km")
    if "ortools" in r:
        o = r["ortools"]
        same = o["by_priority"] == opt["by_priority"] and o["cost"] == opt["cost"]
        print(f"ortools: filled {o['filled']} {o['by_priority']} cost {o['cost']}  equal optimum: {same}")
        print(f"ortools min-cost-flow solve {r['ortools_solve_s']:.3f} s (+ build {r['ortools_build_s']:.3f} s); scipy/ortools solve = {r['solve_s'] / r['ortools_solve_s']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="small,medium")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fairness", default="small,medium", help="sizes for the 8-round fairness run ('' to skip)")
    parser.add_argument("--sweep", default="", help="size for a load weight x exponent sweep ('' to skip)")
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, numpy {np.__version__}")
    for name in filter(None, args.sizes.split(",")):
        report(name, bench_size(name, args.reps, args.seed))
    for name in filter(None, args.fairness.split(",")):
        print(f"\n== fairness over {ROUNDS} rounds, {name} {SIZES[name]}: Gini of assignment counts over eligible volunteers"
              " (a candidate in any round); travel vs the optimum without load and demand terms")
        results = fairness_rounds(*SIZES[name], seed=args.seed)
        no_load, greedy_run = list(results.values())[1:]
        for method, f in results.items():
            print(f"{method:44s} gini {f['gini']:.4f} (no-load pool {f['gini_fixed_pool']:.4f})  filled {f['filled']}  travel {f['travel_km']:.0f} km  ({f['km_per_fill']:.3f} km/fill)"
                  f"  travel vs no-load {f['travel_km'] / no_load['travel_km'] - 1:+.2%}, vs greedy {f['travel_km'] / greedy_run['travel_km'] - 1:+.2%}")
    if args.sweep:
        sweep(args.sweep, args.seed)


# (load weight, exponent, demand weight): the trade-off curve in docs/BENCHMARKS-matching.md.
SWEEP = [(0.4, 0.5, 0.0), (0.4, 1.0, 0.0), (0.3, 0.25, 0.0), (0.35, 0.25, 0.0), (0.4, 0.25, 0.0), (0.45, 0.25, 0.0),
         (0.3, 0.25, 0.1), (0.35, 0.25, 0.1), (0.4, 0.25, 0.1), (0.35, 0.25, 0.12), (0.35, 0.5, 0.1)]


def sweep(name: str, seed: int) -> None:
    """Gini and travel over 8 rounds for several load shapes and demand weights."""
    extra = {}
    for w, p, mu in SWEEP:
        weights = Weights(load=w, load_exponent=p, demand=mu)
        extra[fairness_label(weights)] = (weights, solve_assignment)
    results = fairness_rounds(*SIZES[name], seed=seed, extra=extra)
    no_load, greedy_run = list(results.values())[1:3]
    print(f"\n== load sweep over {ROUNDS} rounds, {name} {SIZES[name]}")
    for method, f in results.items():
        print(f"{method:44s} gini {f['gini']:.4f} (pool {f['pool']}; {f['gini_fixed_pool']:.4f} on the no-load pool)  travel {f['travel_km']:.0f} km  vs no-load "
              f"{f['travel_km'] / no_load['travel_km'] - 1:+.2%}  vs greedy {f['travel_km'] / greedy_run['travel_km'] - 1:+.2%}")


if __name__ == "__main__":
    main()
