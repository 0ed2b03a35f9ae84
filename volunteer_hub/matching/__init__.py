"""Pure matching engine: assigns volunteers to need slots (no Flask, no DB)."""

from .candidates import CandidateGraph, SlotTable, VolunteerTable, Vocabulary, build_candidate_graph, vocabulary_for
from .domain import (
    Explanation,
    MatchResult,
    MatchStats,
    Pairing,
    Slot,
    Unfilled,
    Volunteer,
    WeeklyWindow,
    Weights,
    is_feasible,
    pair_cost,
)
from .solver import greedy, greedy_assignment, rematch_slots, solve, solve_assignment


def build_candidates(
    slots: SlotTable, volunteers: VolunteerTable, weights: Weights | None = None, *, max_candidates: int = 50
) -> CandidateGraph:
    """Candidate graph over columnar tables (the phase the bench times separately)."""
    return build_candidate_graph(slots, volunteers, weights or Weights(), max_candidates=max_candidates)


__all__ = [
    "CandidateGraph",
    "Explanation",
    "MatchResult",
    "MatchStats",
    "Pairing",
    "Slot",
    "SlotTable",
    "Unfilled",
    "Volunteer",
    "VolunteerTable",
    "Vocabulary",
    "WeeklyWindow",
    "Weights",
    "build_candidates",
    "greedy",
    "greedy_assignment",
    "is_feasible",
    "pair_cost",
    "rematch_slots",
    "solve",
    "solve_assignment",
    "vocabulary_for",
]
