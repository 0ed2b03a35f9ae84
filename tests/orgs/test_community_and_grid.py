"""Choosing a home community and grid: shared by volunteers' and beneficiaries' forms."""
from __future__ import annotations

import pytest

from volunteer_hub.errors import ValidationFailed
from volunteer_hub.orgs.services import community_and_grid


def test_a_community_with_or_without_one_of_its_grids(tree):
    assert community_and_grid(tree["b"].id, None, missing="?") == (tree["b"], None)
    assert community_and_grid(tree["b"].id, tree["grid_b"].id, missing="?") == (
        tree["b"], tree["grid_b"])


@pytest.mark.parametrize("choice", [None, 0, 999_999, "street"])
def test_no_community_is_refused_on_its_field_with_the_callers_words(tree, choice):
    community_id = tree[choice].id if choice == "street" else choice
    with pytest.raises(ValidationFailed) as refused:
        community_and_grid(community_id, None, missing="Choose your home community.")
    error = refused.value
    assert (error.code, error.status) == ("COMMUNITY_REQUIRED", 422)
    assert error.errors == {"community_id": ["Choose your home community."]}


@pytest.mark.parametrize("grid", ["grid_a", "a", 999_999])
def test_a_grid_outside_the_community_is_refused_on_its_field(tree, grid):
    grid_id = tree[grid].id if isinstance(grid, str) else grid
    with pytest.raises(ValidationFailed) as refused:
        community_and_grid(tree["b"].id, grid_id, missing="?")
    assert refused.value.code == "GRID_NOT_IN_COMMUNITY"
    assert list(refused.value.errors) == ["grid_id"]
