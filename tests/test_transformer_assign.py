"""Assignment moves of the ``transformer`` search (solvers/transformer/moves.py, search.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers.sequences import search_case

from solvers.transformer.moves import cells_of, cycles, permuted, substitutions
from solvers.transformer.search import LocalSearch, SearchLog

SIZES = {"depth": 5, "d": 24, "h": 32, "heads": 6, "kv": 2, "rows": 8, "length": 6, "seed": 3}


@pytest.fixture(scope="module")
def llama():
    _, _, groups, ev, truth = search_case("llama", **SIZES)
    return groups, ev, truth


def test_cycles_of_a_permutation():
    assert cycles([1, 2, 0, 3, 5, 4]) == [[0, 1, 2], [4, 5]]
    assert cycles([0, 1, 2]) == []


def test_substitutions_copy_one_cell_into_another(llama):
    groups, _, truth = llama
    D = truth.shape[0]
    for _, cells in cells_of(groups, D):
        cands, pairs = substitutions(truth, cells, 1)
        assert len(cands) == len(pairs) > 0
        for cand, (i, j) in zip(cands, pairs):
            assert abs(cells[i][0][0] - cells[j][0][0]) <= 1
            changed = (cand != truth).nonzero().tolist()
            assert {tuple(x) for x in changed} <= set(cells[i])
            assert [int(cand[p, c]) for p, c in cells[i]] == [int(truth[q, t]) for q, t in cells[j]]


def test_permuted_applies_a_cycle(llama):
    groups, _, truth = llama
    cells = cells_of(groups, truth.shape[0])[0][1]
    new = permuted(truth, cells, {0: 1, 1: 2, 2: 0})
    back = permuted(new, cells, {1: 0, 2: 1, 0: 2})
    assert not torch.equal(new, truth) and torch.equal(back, truth)


def test_assignment_move_puts_back_a_cycle_beyond_the_window(llama):
    """The Q/K components moved one place along a cycle through every position, where no
    exchange of two within a window of 1 undoes it: one assignment move of that kind restores
    the network, and the whole search (window 1) gets back to it. (Only Q/K here: in these
    random-weight layers a duplicated V/O or MLP changes the output more than a wrong one, so
    substitution losses favour the truth only for Q/K; trained layers add little each, and on
    held-out 12-layer SmolLM2 the true Q/K is the cheapest substitution at most wrong places,
    docs/real-networks.md.)"""
    groups, ev, truth = llama
    D = truth.shape[0]
    one = groups.parts()[0]
    assert ev.stack.slots[one.kinds[0][0]] in ("q", "k")
    cells = cells_of(one, D)[0][1]
    wrong = permuted(truth, cells, {i: (i + 1) % len(cells) for i in range(len(cells))})
    search = LocalSearch(window=1)
    arr, loss, taken = search.assign(ev, wrong, one, 0.0, ev.clock() + 60, SearchLog())
    assert taken == 1 and torch.equal(arr, truth) and loss < 1e-20
    arr, loss, log = search.run(ev, wrong, groups, 1e-20, ev.clock() + 60, np.random.default_rng(0))
    assert log.stop == "floor" and torch.equal(arr, truth)


def test_assignment_moves_leave_the_truth_alone(llama):
    groups, ev, truth = llama
    arr, loss, taken = LocalSearch().assign(ev, truth, groups, -1.0, ev.clock() + 60, SearchLog())
    assert taken == 0 and torch.equal(arr, truth)


def test_assignments_can_be_turned_off(llama):
    assert "assignment" in LocalSearch().neighbourhood()
    assert "assignment" not in LocalSearch(assignments=False).neighbourhood()


def test_assignment_moves_stop_at_the_deadline(llama):
    groups, ev, truth = llama
    wrong = truth.flip(0)
    before = ev.evaluations
    arr, _, taken = LocalSearch().assign(ev, wrong, groups, 0.0, ev.clock() - 1, SearchLog())
    assert taken == 0 and torch.equal(arr, wrong) and ev.evaluations - before <= 1  # the states only


def test_coordinate_cycles_turn_unsure_pairs_before_anything_else(monkeypatch):
    """Where the circuits leave Q/K's orientation to the data (BERT), each cycle of the coordinate
    sweeps starts with the turns alone, and from the truth with pairs turned the search turns
    them back."""
    _, _, groups, ev, truth = search_case("bert", depth=3, d=16, h=24, heads=4, rows=4, length=5, seed=0)
    assert groups.flips
    a, b = groups.flips[0]
    wrong = truth.clone()
    wrong[[0, 2], a], wrong[[0, 2], b] = truth[[0, 2], b], truth[[0, 2], a]
    search, swept = LocalSearch(), []
    sweep = search.sweep

    def spy(ev, arr, part, *args, **kwargs):
        swept.append(part)
        return sweep(ev, arr, part, *args, **kwargs)

    monkeypatch.setattr(search, "sweep", spy)
    arr = search.coordinate_descent(ev, wrong, groups, 1e-20, ev.clock() + 60, SearchLog())
    first = swept[0]
    assert first.kinds == () and first.singles == () and first.flips == groups.flips
    assert torch.equal(arr, truth)
