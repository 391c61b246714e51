"""Window permutations of the ``transformer`` search (solvers/transformer/moves.py, search.py)."""

from __future__ import annotations

import pytest
import torch
from helpers.sequences import search_case

from solvers.transformer.moves import window_permutations
from solvers.transformer.search import LocalSearch, SearchLog

SIZES = {"depth": 5, "d": 24, "h": 32, "heads": 6, "kv": 2, "rows": 4, "length": 6, "seed": 4}


@pytest.fixture(scope="module")
def llama():
    _, _, groups, ev, truth = search_case("llama", **SIZES)
    return groups, ev, truth


def _compound(truth: torch.Tensor, groups, p: int) -> torch.Tensor:
    """``truth`` with one kind of positions ``p..p+3`` reversed and the other kinds' first two
    exchanged: two errors at once, neither an exchange of one kind nor a rotation."""
    wrong, (one, *others) = truth.clone(), [list(k) for k in groups.kinds]
    wrong[p : p + 4, one] = truth[p : p + 4, one].flip(0)
    rest = [c for k in others for c in k]
    wrong[p, rest], wrong[p + 1, rest] = truth[p + 1, rest], truth[p, rest]
    return wrong


def test_window_permutations_permute_components_only_within_the_window(llama):
    groups, _, truth = llama
    D, comps = truth.shape[0], [c for k in groups.kinds for c in k]
    gains = [c for c in range(truth.shape[1]) if c not in comps]
    cands = window_permutations(truth, groups, 1, 3)
    k = len(groups.kinds)
    # one kind by one permutation, the rest by another, for each kind (and all by one): distinct, no identity
    assert len(cands) == len({tuple(c.flatten().tolist()) for c in cands}) <= k * 36 + 6
    assert not any(torch.equal(c, truth) for c in cands)
    for c in cands:
        outside = [q for q in range(D) if q not in (1, 2, 3)]
        assert torch.equal(c[outside], truth[outside])
        assert torch.equal(c[:, gains], truth[:, gains])  # the norm gains stay
        for kind in groups.kinds:
            col = kind[0]
            assert sorted(c[1:4, col].tolist()) == sorted(truth[1:4, col].tolist())
    # the two errors at once are one candidate away from the truth
    assert any(torch.equal(c, truth) for c in window_permutations(_compound(truth, groups, 1), groups, 1, 4))
    assert len(window_permutations(truth, groups, D - 1, 4)) == 0  # a window of one position: nothing to permute


def test_the_search_repairs_two_errors_at_once_in_the_last_window(llama):
    groups, ev, truth = llama
    D = truth.shape[0]
    wrong = _compound(truth, groups, D - 4)
    search = LocalSearch(permute=4)
    new, loss, taken = search.permute_windows(ev, wrong, groups, ev.clock() + 60, SearchLog())
    assert taken == 1 and torch.equal(new, truth) and loss == pytest.approx(0.0, abs=1e-9)
    # off, the search's certificate does not name them
    assert "permutations" in search.neighbourhood() and "permutations" not in LocalSearch(permute=0).neighbourhood()
    same, _, none = search.permute_windows(ev, truth, groups, ev.clock() + 60, SearchLog())
    assert none == 0 and torch.equal(same, truth)
