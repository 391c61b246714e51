"""The ``fast`` solver: exact on every family, on reparametrised and noisy puzzles, and an honest certificate."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from helpers.synthetic import make_puzzle

from reassembly.answer import Assembly
from reassembly.puzzle import Piece, Puzzle
from reassembly.registry import get_solver
from reassembly.scoring import network_mse, score


def reparametrise(puzzle: Puzzle, truth: Assembly, seed: int = 0, spread: float = 4.0) -> Puzzle:
    """Permute every block's hidden units and rescale each by a factor in [1/spread, spread].

    Needs the true blocks to keep each block's function; the solver only sees the result.
    """
    g = torch.Generator().manual_seed(seed)
    pieces = {p.index: p for p in puzzle.pieces}
    for inp, out in truth.blocks:
        w_in, b_in, w_out = pieces[inp].weight, pieces[inp].bias, pieces[out].weight
        h = w_in.shape[0]
        perm = torch.randperm(h, generator=g)
        log_spread = float(torch.tensor(spread).log())
        scale = torch.empty(h, dtype=w_in.dtype).uniform_(-log_spread, log_spread, generator=g).exp()
        pieces[inp] = Piece(inp, w_in[perm] * scale[:, None], b_in[perm] * scale)
        pieces[out] = Piece(out, w_out[:, perm] / scale[None, :], pieces[out].bias)
    return Puzzle(pieces=tuple(pieces.values()), X=puzzle.X, pred=puzzle.pred, name=puzzle.name)


def noisy(puzzle: Puzzle, sigma: float, seed: int = 0) -> Puzzle:
    """Relative Gaussian noise on every weight; ``pred`` stays the original network's."""
    g = torch.Generator().manual_seed(seed)
    pieces = tuple(
        dataclasses.replace(
            p, weight=p.weight + sigma * p.weight.std() * torch.randn(p.weight.shape, generator=g, dtype=p.weight.dtype)
        )
        for p in puzzle.pieces
    )
    return Puzzle(pieces=pieces, X=puzzle.X, pred=puzzle.pred, name=puzzle.name, family=puzzle.family)


@pytest.fixture(scope="module")
def base():
    return make_puzzle(depth=10, width=12, rows=400, seed=3)


def test_exact_with_zero_loss_certificate(base):
    puzzle, answer = base
    result = get_solver("fast").solve(puzzle)
    assert score(puzzle, result.assembly, answer).exact
    cert = result.certificate
    assert cert["kind"] == "zero-loss"
    assert cert["all_rows"] == puzzle.n_rows
    assert cert["final_mse_all_rows"] == pytest.approx(network_mse(puzzle, result.assembly), abs=1e-9)
    assert {s.stage for s in result.stages} >= {"grouping", "seed", "descent"}


@pytest.mark.parametrize(("family", "seed"), [("gelu", 1), ("silu", 2), ("prenorm", 1), ("swiglu", 2)])
def test_exact_on_every_family(family, seed):
    """Including the slots shapes cannot place: norm gains, and which same-shaped piece is the gate."""
    puzzle, answer = make_puzzle(seed=seed, family=family)
    result = get_solver("fast").solve(puzzle)
    s = score(puzzle, result.assembly, answer)
    assert s.exact and s.grouping_accuracy == 1.0, s


def test_a_scrambled_gate_and_norm_assignment_is_found_by_exchanges():
    """Blocks grouped right but each block's gate and up exchanged: the descent's exchange screen
    puts them back (weights cannot tell a gate from an up projection)."""
    from reassembly.kernel import PieceStack
    from reassembly.kernel.screens import predict_exchanges
    from solvers.fast.descent import Descent
    from solvers.rows import evaluator

    puzzle, answer = make_puzzle(seed=2, family="swiglu")
    truth = answer.assembly(puzzle.layout)
    stack = PieceStack(puzzle, torch.float64)
    ev = evaluator(puzzle, stack, truth.head)
    arr = stack.arrangement(truth)
    flipped = arr.clone()
    flipped[:, [0, 1]] = arr[:, [1, 0]]
    states = ev.states(flipped)
    screened = predict_exchanges(ev, flipped, states, ev.jacobians(flipped, states), 0, 1)
    assert (screened.diagonal() < float(ev.loss(states[-1]))).sum() >= 6  # most blocks' own exchange pays
    found, loss, log, cert = Descent().run(ev, flipped, 1e-12, exchanges=[(0, 0), (0, 1), (1, 1)])
    assert torch.equal(found, arr) and cert["kind"] == "zero-loss" and log.exchanges >= 8


def test_exact_after_function_preserving_reparametrisation(base):
    puzzle, answer = base
    truth = answer.assembly(puzzle.layout)
    twisted = reparametrise(puzzle, truth, seed=1)
    assert network_mse(twisted, truth) < 1e-12  # the same function ...
    moved = [i for i, (a, b) in enumerate(zip(twisted.pieces, puzzle.pieces)) if not torch.allclose(a.weight, b.weight)]
    assert len(moved) == 2 * puzzle.depth  # ... with different weights
    assert score(twisted, get_solver("fast").solve(twisted).assembly, answer).exact


def test_noisy_pieces_give_the_mse_minimiser_and_a_local_optimum_certificate(base):
    puzzle, answer = base
    lossy = noisy(puzzle, sigma=0.01)  # at 0.02 another order fits this puzzle better than the truth
    truth = answer.assembly(puzzle.layout)
    assert network_mse(lossy, truth) > 1e-8  # the answer no longer reaches zero
    result = get_solver("fast").solve(lossy)
    assert score(lossy, result.assembly, answer).exact
    cert = result.certificate
    assert cert["kind"] == "local-optimum"
    assert cert["best_neighbour_loss"] >= cert["loss"] and cert["moves_checked"] > 0
    # The doubt step evaluates the 6 exchanges among the 4 weakest groups in place; only those
    # within 10 times the current loss are descended from, and none beats the right grouping.
    doubts = [s for s in result.stages if s.stage == "regroup"]
    assert doubts and all(len(d.details["in_place"]) == 6 for d in doubts)
    assert all(set(d.details["descended"]) <= set(d.details["in_place"]) for d in doubts)
    assert not any(s.method.startswith("regrouped") for s in result.stages)
    # The certificate's claim, checked independently on all rows: no adjacent block swap helps.
    final = network_mse(lossy, result.assembly)
    assert cert["final_mse_all_rows"] == pytest.approx(final, rel=1e-4)
    blocks = list(result.assembly.blocks)
    for p in range(len(blocks) - 1):
        swapped = blocks[:p] + [blocks[p + 1], blocks[p]] + blocks[p + 2 :]
        assert network_mse(lossy, Assembly(tuple(swapped), result.assembly.head)) > final


def test_deterministic_given_random_state(base):
    puzzle, _ = base
    scrambled = noisy(puzzle, sigma=0.05, seed=3)
    a = get_solver("fast", random_state=4).solve(scrambled)
    b = get_solver("fast", random_state=4).solve(scrambled)
    assert a.assembly == b.assembly and a.evaluations == b.evaluations


@pytest.mark.parametrize("family", ["relu", "gelu", "silu", "prenorm", "swiglu"])
def test_hidden_activations_feed_the_write_piece_linearly(family):
    from reassembly.families.base import linear
    from reassembly.kernel import Evaluator, PieceStack
    from solvers.fast.relink import hidden

    puzzle, answer = make_puzzle(depth=3, width=8, rows=20, seed=1, family=family)
    truth = answer.assembly(puzzle.layout)
    stack = PieceStack(puzzle)
    arr = stack.arrangement(truth)
    ev = Evaluator(stack, truth.head, puzzle.X, puzzle.pred)
    states = ev.states(arr)
    write = next(i for i, s in enumerate(puzzle.family.slots) if s.role == "write")
    params = stack.gather(arr)
    expected = puzzle.family.branch(params, states[:-1])
    assert torch.allclose(linear(hidden(ev, arr, states[:-1], write), params[stack.slots[write]]), expected, atol=1e-10)


@pytest.fixture(scope="module")
def unpaired():
    """Write pieces that are pure noise: no weight statistic pairs them, only the data can."""
    return make_puzzle(depth=8, width=12, rows=600, seed=5, signal=0.0, noise=0.2)


def test_relink_pairs_blocks_from_data_where_weights_carry_nothing(unpaired):
    from solvers.grouping import group_pieces

    puzzle, answer = unpaired
    truth = answer.assembly(puzzle.layout)
    weights_alone = set(group_pieces(puzzle, "units").blocks) & set(truth.blocks)
    assert len(weights_alone) < len(truth.blocks)  # otherwise this test would not need the data
    result = get_solver("fast").solve(puzzle)
    assert score(puzzle, result.assembly, answer).exact
    relink = [s for s in result.stages if s.stage == "relink"]
    assert relink and sum(relink[0].details["moved"]) > 0
    assert result.certificate["stopped"] == "floor"
    without = get_solver("fast", relink__rounds=0).solve(puzzle)  # the weights and the order search alone miss
    assert not score(puzzle, without.assembly, answer).exact


def test_a_time_limit_stops_restarts_and_the_certificate_says_why(base):
    puzzle, answer = base
    lossy = noisy(puzzle, 0.05)  # no arrangement reaches the floor: the search would go on
    result = get_solver("fast", time_limit=3.0).solve(lossy)
    assert result.certificate["stopped"] in ("time-limit", "restarts-exhausted")
    assert result.certificate["time_limit"] == pytest.approx(3.0)
    assert any(s.stage == "restarts" for s in result.stages)
    assert get_solver("fast").solve(lossy).certificate["stopped"] == "search-exhausted"  # no limit: no restarts
