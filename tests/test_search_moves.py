"""Seeds in both directions, the long-range insertion screen, iterated local search and the doubt on
the weakest groups, on arrangements of a small puzzle stacked in its true order."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers.synthetic import make_puzzle

from reassembly.answer import Assembly
from reassembly.kernel import PieceStack
from reassembly.kernel.screens import predict_insertions
from reassembly.scoring import score
from solvers.fast import Descent, FastSolver, IteratedSearch
from solvers.fast.context import Context
from solvers.fast.moves import insertion_order, kick
from solvers.fast.search import best_insertion, long_insertions
from solvers.rows import evaluator, first_rows
from solvers.seeds import SEEDS, seed_order


@pytest.fixture(scope="module")
def truth():
    """A small puzzle, its pieces stacked (the true arrangement ``arr``) and a 256-row evaluator."""
    puzzle, answer = make_puzzle(depth=10, width=12, rows=400, seed=3)
    stack = PieceStack(puzzle, torch.float64)
    t = answer.assembly(puzzle.layout)
    return puzzle, answer, stack.arrangement(t), evaluator(puzzle, stack, t.head, 256)


def order(arr: torch.Tensor, positions: list[int]) -> torch.Tensor:
    return arr[torch.tensor(positions)]


def ctx() -> Context:
    return Context(Descent(), 1e-9, [], 0)


def test_reversed_seeds_sort_descending(truth):
    _, _, arr, ev = truth
    for key in ("delta-norm", "wout-norm"):
        assert key in SEEDS and f"{key}-reversed" in SEEDS
        assert torch.equal(seed_order(ev, arr, f"{key}-reversed"), seed_order(ev, arr, key).flip(0))


def test_auto_seed_picks_the_direction_with_lower_loss(truth):
    puzzle, _, _, _ = truth
    result = FastSolver().solve(puzzle)
    seed = next(s for s in result.stages if s.stage == "seed")
    candidates = seed.details["candidates"]
    assert set(candidates) == {"delta-norm", "delta-norm-reversed"}
    assert seed.method == min(candidates, key=candidates.get)
    assert seed.mse == candidates[seed.method]


@pytest.mark.parametrize(
    ("k", "t", "expected"), [(0, 3, [1, 2, 0, 3, 4]), (3, 1, [0, 3, 1, 2, 4]), (1, 5, [0, 2, 3, 4, 1])]
)
def test_insertion_order(k, t, expected):
    assert insertion_order(5, k, t) == expected


def test_insertion_screen_tracks_exact_losses(truth):
    """From an order with one block displaced, the first-order screen ranks moves like the exact losses."""
    _, _, arr, ev = truth
    D = arr.shape[0]
    start = order(arr, insertion_order(D, 2, 7))  # block 2 moved 4 places too late
    predicted = predict_insertions(ev, start)
    assert predicted.shape == (D, D + 1)
    moves = [(k, t) for k in range(D) for t in range(D + 1) if t not in (k, k + 1)]
    assert all(torch.isinf(predicted[k, k]) for k in range(D))
    cands = torch.stack([order(start, insertion_order(D, k, t)) for k, t in moves])
    exact = ev.suffix_losses(cands, torch.tensor([min(m) for m in moves]), ev.states(start))
    guess = torch.stack([predicted[k, t] for k, t in moves])
    rho = np.corrcoef(np.argsort(np.argsort(guess.numpy())), np.argsort(np.argsort(exact.numpy())))[0, 1]
    assert rho > 0.8, f"screen and exact losses disagree (Spearman {rho:.2f})"


def test_best_insertion_undoes_a_long_displacement(truth):
    _, _, arr, ev = truth
    D = arr.shape[0]
    start = order(arr, insertion_order(D, 1, 9))  # block 1 moved 7 places away: no adjacent swap undoes it
    loss = float(ev.loss(ev.states(start)[-1]))
    found = best_insertion(ev, start, loss, 8, predict_insertions(ev, start))
    assert found is not None
    best, new_loss = found
    assert torch.equal(best, arr) and new_loss < 1e-20 < loss
    assert best_insertion(ev, best, new_loss, 8, predict_insertions(ev, best)) is None  # nothing beats the truth


def test_long_insertions_move_distinct_blocks_far_best_first(truth):
    """Long-range starts: one move per block, each more than ``min_shift`` places, ranked by the screen."""
    _, _, arr, ev = truth
    D = arr.shape[0]
    start = order(arr, insertion_order(D, 2, 10))  # block 2 moved to the end
    predicted = predict_insertions(ev, start)
    starts = long_insertions(predicted, start, min_shift=3, count=4)
    assert 0 < len(starts) <= 4
    name = {tuple(r): b for b, r in enumerate(arr.tolist())}
    old = {name[tuple(r)]: t for t, r in enumerate(start.tolist())}
    moved, last = set(), -float("inf")
    for cand in starts:
        new = {name[tuple(r)]: t for t, r in enumerate(cand.tolist())}
        shifted = [b for b in old if abs(new[b] - old[b]) > 1]  # the block moved (others shift by one)
        assert len(shifted) == 1 and abs(new[shifted[0]] - old[shifted[0]]) > 3
        k = old[shifted[0]]
        t = new[shifted[0]] if new[shifted[0]] < k else new[shifted[0]] + 1
        assert shifted[0] not in moved and float(predicted[k, t]) >= last
        moved.add(shifted[0])
        last = float(predicted[k, t])
    assert torch.equal(starts[0], arr)  # the best far move puts block 2 back


def test_iterated_search_repairs_what_the_descent_cannot(truth):
    """Scrambled far beyond the reach of adjacent swaps, iterated search still reaches the floor."""
    _, _, arr, ev = truth
    scrambled = order(arr, np.random.default_rng(1).permutation(arr.shape[0]).tolist())
    c = ctx()
    search = IteratedSearch(insert_top=8, screen_rows=128)
    found, loss, stop = search.run(c, ev, scrambled, first_rows(ev, 128), 200, 60, np.random.default_rng(0))
    assert torch.equal(found, arr) and stop == "floor"
    report = c.stages[-1]
    assert report.stage == "iterated-search" and report.mse == loss <= 1e-9 * float(ev.target.pow(2).mean())
    assert sum(report.details["accepted"].values()) == len(report.details["history"]) - 1 >= 1


def test_an_iterated_search_hands_over_early_only_while_every_step_pays(truth):
    """``early``: stop after that many steps where each lowered the loss, never after a failed one."""
    _, _, arr, ev = truth
    scrambled = order(arr, np.random.default_rng(2).permutation(arr.shape[0]).tolist())
    c, search = ctx(), IteratedSearch(insert_top=8)
    screen = first_rows(ev, 128)
    _, _, stop = search.run(c, ev, scrambled, screen, 200, 60, np.random.default_rng(0), early=2)
    assert stop == "improving" and c.stages[-1].rounds == 2 == sum(c.stages[-1].details["accepted"].values())
    search.run(c, ev, scrambled, screen, 200, 60, np.random.default_rng(0))  # without the rule it goes on
    assert c.stages[-1].rounds > 2 and c.stages[-1].details["stop"] != "improving"
    _, _, stop = search.run(c, ev, arr, screen, 200, 60, np.random.default_rng(0), early=2)  # at the floor
    assert stop == "floor" and c.stages[-1].rounds == 0


def test_doubting_the_weakest_groups_repairs_a_wrong_grouping(truth, monkeypatch):
    """The grouping is made to exchange the write pieces of its two least confident groups; the data must undo it."""
    import dataclasses

    import solvers.fast.solver as fast

    puzzle, answer, _, _ = truth
    right = fast.group_pieces(puzzle, "units")
    a, b = np.argsort(right.confidence, kind="stable")[:2].tolist()
    blocks = [list(x) for x in right.blocks]
    blocks[a][1], blocks[b][1] = blocks[b][1], blocks[a][1]
    wrong = dataclasses.replace(right, blocks=tuple(map(tuple, blocks)))
    monkeypatch.setattr(fast, "group_pieces", lambda *args, **kwargs: wrong)
    result = FastSolver().solve(puzzle)
    assert score(puzzle, result.assembly, answer).exact
    quick = [s for s in result.stages if s.stage == "regroup" and s.method.startswith("quick-")]
    assert len(quick) == 1 and quick[0].rounds <= 1 and len(quick[0].details["in_place"]) == 6
    assert not score(puzzle, FastSolver(regroup=fast.Regroup(weakest=0)).solve(puzzle).assembly, answer).exact


@pytest.mark.parametrize("moves", [0, 1, 3, 12])
def test_a_kick_displaces_at_most_its_number_of_blocks(moves):
    """A kick of ``moves`` insertions is a permutation within which at most ``moves`` blocks are out
    of their relative order (depth minus the longest increasing run)."""
    D = 40
    arr = torch.arange(D).unsqueeze(1).repeat(1, 2)
    kicked = kick(arr, np.random.default_rng(moves), moves, 8)
    positions = kicked[:, 0].tolist()
    assert sorted(positions) == list(range(D)) and torch.equal(kicked[:, 0], kicked[:, 1])
    longest: list[int] = []  # patience sorting: the longest increasing subsequence
    for x in positions:
        i = int(np.searchsorted(longest, x))
        longest[i : i + 1] = [x]
    assert D - len(longest) <= moves
    if moves == 0:
        assert positions == list(range(D))


def test_assemblies_round_trip_through_arrangements(truth):
    puzzle, answer, arr, ev = truth
    stack = ev.stack
    back = stack.assembly(arr, answer.assembly(puzzle.layout).head)
    assert back == answer.assembly(puzzle.layout) and isinstance(back, Assembly)


def test_a_rotation_undoes_a_cycle_of_one_kind_that_no_exchange_undoes():
    """Three layers whose second kind is linked one layer off, in a cycle: one rotation of that
    kind's columns puts it back; no exchange of two does (each leaves two layers wrong). Every set
    of kinds rotates."""
    from solvers.transformer.moves import Groups, moves_at

    truth = torch.arange(12).reshape(4, 3)
    groups = Groups(kinds=((0,), (1, 2)), singles=(), flips=())
    wrong = truth.clone()
    wrong[1:4, 1:] = truth[[2, 3, 1]][:, 1:]
    plain = torch.cat([c for _, c in moves_at(wrong, groups, 1, 3)])
    rotated = moves_at(wrong, groups, 1, 3, rotate=True)
    assert not any(torch.equal(c, truth) for c in plain)
    assert any(torch.equal(c, truth) for label, cands in rotated if label == "rotate" for c in cands)
    assert (
        sum(len(c) for _, c in rotated) == len(plain) + 3 * 2
    )  # per set of kinds: to and from the position 2 places on
