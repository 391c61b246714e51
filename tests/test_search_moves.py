"""Seeds in both directions, the long-range insertion screen, and iterated local search."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from helpers.synthetic import make_puzzle
from reassembly.network import BlockStack, Evaluator
from reassembly.permutation import Assembly
from reassembly.scoring import score
from solvers.fast import FastSolver
from solvers.stages.insertion import best_insertion, insertion_order, long_insertions, predict_insertions
from solvers.stages.states import Config, forward_states
from solvers.stages.seeds import SEEDS, seed_order


@pytest.fixture(scope="module")
def truth():
    """A small puzzle stacked in its true block order (stack index = depth) and a 256-row evaluator."""
    puzzle, answer = make_puzzle(depth=10, width=12, rows=400, seed=3)
    stack = BlockStack.from_pairs(puzzle, Assembly.from_permutation(answer.permutation, puzzle.roles).blocks, torch.float64)
    return puzzle, stack, Evaluator.for_puzzle(puzzle, stack, 256, seed=0)


def config(order: list[int]) -> Config:
    t = torch.tensor(order)
    return Config(t.clone(), t.clone())


def test_reversed_seeds_sort_descending(truth):
    _, stack, ev = truth
    for key in ("delta-norm", "wout-norm"):
        assert key in SEEDS and f"{key}-reversed" in SEEDS
        assert seed_order(stack, ev.X, f"{key}-reversed") == seed_order(stack, ev.X, key)[::-1]
    with pytest.raises(ValueError, match="unknown seed"):
        seed_order(stack, ev.X, "bogus")


def test_auto_seed_picks_the_direction_with_lower_loss(truth):
    puzzle, _, _ = truth
    result = FastSolver().solve(puzzle)
    seed = next(s for s in result.stages if s.stage == "seed")
    candidates = seed.details["candidates"]
    assert set(candidates) == {"delta-norm", "delta-norm-reversed"}
    assert seed.method == min(candidates, key=candidates.get)
    assert seed.mse == candidates[seed.method]


@pytest.mark.parametrize(("k", "t", "expected"), [(0, 3, [1, 2, 0, 3, 4]), (3, 1, [0, 3, 1, 2, 4]), (1, 5, [0, 2, 3, 4, 1])])
def test_insertion_order(k, t, expected):
    assert insertion_order(5, k, t) == expected


def test_insertion_screen_tracks_exact_losses(truth):
    """From an order with one block displaced, the first-order screen ranks moves like the exact losses."""
    _, stack, ev = truth
    D = stack.depth
    start = config(insertion_order(D, 2, 7))  # block 2 moved 4 places too late
    predicted = predict_insertions(ev, start)
    assert predicted.shape == (D, D + 1)
    states = forward_states(ev, start)
    moves = [(k, t) for k in range(D) for t in range(D + 1) if t not in (k, k + 1)]
    assert all(torch.isinf(predicted[k, k]) for k in range(D))
    orders = torch.tensor([insertion_order(D, k, t) for k, t in moves])
    exact = ev.suffix_losses(start.ins[orders], torch.tensor([min(m) for m in moves]), states)
    guess = torch.stack([predicted[k, t] for k, t in moves])
    rho = np.corrcoef(np.argsort(np.argsort(guess.numpy())), np.argsort(np.argsort(exact.numpy())))[0, 1]
    assert rho > 0.8, f"screen and exact losses disagree (Spearman {rho:.2f})"


def test_best_insertion_undoes_a_long_displacement(truth):
    _, stack, ev = truth
    D = stack.depth
    start = config(insertion_order(D, 1, 9))  # block 1 moved 7 places away: no adjacent swap undoes it
    loss = float(ev.loss(forward_states(ev, start)[-1]))
    found = best_insertion(ev, ev, start, loss, top=8)
    assert found is not None
    cfg, new_loss = found
    assert cfg.ins.tolist() == list(range(D))
    assert new_loss < 1e-20 < loss
    assert best_insertion(ev, ev, cfg, new_loss, top=8) is None  # nothing beats the exact order


def test_long_insertions_move_distinct_blocks_far_best_first(truth):
    """Long-range starts: one move per block, each more than ``min_shift`` places, ranked by the screen."""
    _, stack, ev = truth
    D = stack.depth
    start = config(insertion_order(D, 1, 9))  # block 1 sits 7 places too late
    predicted = predict_insertions(ev, start)
    starts = long_insertions(predicted, start, min_shift=3, count=4)
    assert 0 < len(starts) <= 4
    old = {b: t for t, b in enumerate(start.ins.tolist())}
    moved, last = set(), -float("inf")
    for cfg in starts:
        new = {b: t for t, b in enumerate(cfg.ins.tolist())}
        shifted = [b for b in old if abs(new[b] - old[b]) > 1]  # the block moved (others shift by one)
        assert len(shifted) == 1 and abs(new[shifted[0]] - old[shifted[0]]) > 3
        k = old[shifted[0]]
        t = new[shifted[0]] if new[shifted[0]] < k else new[shifted[0]] + 1
        assert shifted[0] not in moved and float(predicted[k, t]) >= last
        moved.add(shifted[0])
        last = float(predicted[k, t])
    assert starts[0].ins.tolist() == list(range(D))  # the best far move puts block 1 back


def test_iterated_search_repairs_what_the_descent_cannot(truth):
    """Scrambled far beyond the reach of adjacent swaps, iterated search still reaches the floor."""
    _, stack, ev = truth
    rng = np.random.default_rng(1)
    scrambled = config(rng.permutation(stack.depth).tolist())
    solver = FastSolver(insert_top=8, screen_rows=128, search_steps=200, patience=60)
    stages = []
    cfg, loss = solver._iterated_search(scrambled, ev, stages)
    assert cfg.ins.tolist() == list(range(stack.depth))
    report = stages[-1]
    assert report.stage == "iterated-search" and report.mse == loss <= 1e-9 * float(ev.target.pow(2).mean())
    assert sum(report.details["accepted"].values()) == len(report.details["history"]) - 1 >= 1


def test_doubting_the_weakest_pairs_repairs_a_wrong_pairing(truth, monkeypatch):
    """DDR is made to swap the outputs of its two least confident pairs; the data must undo it."""
    import solvers.fast as fast

    puzzle, _, _ = truth
    right = fast.pair_pieces(puzzle, "ddr")
    a, b = fast.weakest_pairs(right, 2)
    pairs = list(right.pairs)
    pairs[a], pairs[b] = (pairs[a][0], pairs[b][1]), (pairs[b][0], pairs[a][1])
    wrong = dataclasses.replace(right, pairs=tuple(pairs))
    assert sorted(fast.weakest_pairs(wrong, 2)) == sorted([a, b])  # the scores still name them the weakest
    monkeypatch.setattr(fast, "pair_pieces", lambda *args, **kwargs: wrong)
    _, answer = make_puzzle(depth=10, width=12, rows=400, seed=3)

    result = FastSolver().solve(puzzle)
    assert score(puzzle, result.permutation, answer).exact
    assert any(s.method.startswith("re-paired") for s in result.stages)
    # Before the search, the quick doubt descends from at most one re-pairing (the best in place).
    quick = [s for s in result.stages if s.stage == "doubt" and s.method.startswith("quick-")]
    assert len(quick) == 1 and quick[0].rounds <= 1 and len(quick[0].details["in_place"]) == 6
    assert not score(puzzle, FastSolver(doubt=0).solve(puzzle).permutation, answer).exact


@pytest.mark.parametrize("moves", [0, 1, 3, 12])
def test_a_kick_displaces_at_most_its_number_of_blocks(moves):
    """A kick of ``moves`` insertions is a permutation within which at most ``moves`` blocks are
    out of their relative order (depth minus the longest increasing run)."""
    D = 40
    cfg = config(list(range(D)))
    kicked = FastSolver(kick_shift=8)._kick(cfg, np.random.default_rng(moves), moves)
    order = kicked.ins.tolist()
    assert sorted(order) == list(range(D)) and torch.equal(kicked.ins, kicked.outs)
    longest = []  # patience sorting: the longest increasing subsequence
    for x in order:
        i = int(np.searchsorted(longest, x))
        longest[i:i + 1] = [x]
    assert D - len(longest) <= moves
    if moves == 0:
        assert order == list(range(D))


def test_an_iterated_search_hands_over_early_only_while_every_step_pays(truth):
    """``early``: stop after that many steps where each lowered the loss, never after a failed one."""
    _, stack, ev = truth
    scrambled = config(np.random.default_rng(1).permutation(stack.depth).tolist())
    solver = FastSolver(insert_top=8, screen_rows=128, search_steps=200, patience=60)
    stages = []
    solver._iterated_search(scrambled, ev, stages, early=2)
    early = stages[-1]
    assert early.details["stop"] == "improving" and early.rounds == 2 == sum(early.details["accepted"].values())
    solver._iterated_search(scrambled, ev, stages)  # the same search without the rule goes on
    assert stages[-1].rounds > 2 and stages[-1].details["stop"] != "improving"
    # At the floor no step runs, and the floor, not the early rule, is reported.
    solved = config(list(range(stack.depth)))
    solver._iterated_search(solved, ev, stages, early=2)
    assert stages[-1].details["stop"] == "floor" and stages[-1].rounds == 0
