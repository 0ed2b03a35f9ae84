"""Every rule of the registry: its vectorised mask agrees with its scalar check on every
pair, and its static prefilter never drops someone the rule would accept. The cases are
generated from rules.RULES, so a rule added there is tested here without a new test."""

from __future__ import annotations

import numpy as np
import pytest

from volunteer_hub.matching import SlotTable, VolunteerTable, candidates, domain, rules, vocabulary_for

from ._factories import random_instance

SEEDS = range(4)


def _all_pairs(seed: int):
    slots, vols = random_instance(seed, 25, 60, loose=bool(seed % 2))
    vocab = vocabulary_for(slots, vols)
    st, vt = SlotTable.from_slots(slots, vocab), VolunteerTable.from_volunteers(vols, vocab)
    si, vi = (a.ravel() for a in np.meshgrid(np.arange(len(st)), np.arange(len(vt)), indexing="ij"))
    ordered_slots = sorted(slots, key=lambda s: s.id)
    ordered_vols = sorted(vols, key=lambda v: v.id)
    return ordered_slots, ordered_vols, st, vt, si, vi


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("rule", rules.RULES, ids=lambda r: r.reason)
def test_mask_agrees_with_the_scalar_check(rule: rules.Rule, seed: int) -> None:
    slots, vols, st, vt, si, vi = _all_pairs(seed)
    rel = candidates.relation_codes(st, vt, si, vi)
    km = candidates.pair_distances_km(st, vt, si, vi, rel)
    vectorised = rule.mask(st, vt, si, vi, rel, km)
    scalar = np.array([rule.check(slots[s], vols[v]) for s, v in zip(si, vi)])
    assert np.array_equal(vectorised, scalar)


@pytest.mark.parametrize("rule", rules.RULES, ids=lambda r: r.reason)
def test_the_instances_pass_and_break_every_rule(rule: rules.Rule) -> None:
    """Otherwise the parity above would hold trivially."""
    outcomes = set()
    for seed in SEEDS:
        slots, vols, *_ = _all_pairs(seed)
        outcomes |= {rule.check(s, v) for s in slots for v in vols}
    assert outcomes == {True, False}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("rule", [r for r in rules.RULES if r.static is not None], ids=lambda r: r.reason)
def test_static_prefilter_keeps_everyone_the_rule_accepts(rule: rules.Rule, seed: int) -> None:
    slots, vols, st, vt, _, _ = _all_pairs(seed)
    assert rule.static is not None
    for row, slot in enumerate(slots):
        kept = rule.static(st, vt, row)
        accepted = np.array([rule.check(slot, v) for v in vols])
        assert not (accepted & ~kept).any(), slot.id


def test_the_derived_lists_follow_the_registry() -> None:
    assert [r for r, _ in domain.FEASIBILITY_RULES] == [r.reason for r in rules.RULES]
    assert candidates.REASONS == tuple(r.reason for r in rules.RULES)
    assert set(rules.FAST_FILTER) | set(rules.LAST_FILTER) == set(rules.RULES)
    assert len({r.refusal_code for r in rules.RULES}) == len(rules.RULES)
