"""The ``fast`` solver: exact on reparametrised and noisy puzzles, and an honest certificate."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from helpers.synthetic import make_puzzle
from reassembly.network import mse
from reassembly.permutation import Assembly
from reassembly.puzzle import Piece, Puzzle
from reassembly.registry import get_solver
from reassembly.scoring import score


def reparametrise(puzzle: Puzzle, pairs: list[tuple[int, int]], seed: int = 0, spread: float = 4.0) -> Puzzle:
    """Permute every block's hidden units and rescale each by a factor in [1/spread, spread].

    Needs the true ``pairs`` to keep each block's function; the solver only sees the result.
    """
    g = torch.Generator().manual_seed(seed)
    pieces = {p.index: p for p in puzzle.pieces}
    for inp, out in pairs:
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
        dataclasses.replace(p, weight=p.weight + sigma * p.weight.std() * torch.randn(p.weight.shape, generator=g, dtype=p.weight.dtype))
        for p in puzzle.pieces
    )
    return Puzzle(pieces=pieces, X=puzzle.X, pred=puzzle.pred, name=puzzle.name)


@pytest.fixture(scope="module")
def base():
    return make_puzzle(depth=10, width=12, rows=400, seed=3)


def test_fast_is_registered_and_configurable():
    solver = get_solver("fast", rows=[64, 128])
    assert solver.get_params()["rows"] == [64, 128]


def test_exact_with_zero_loss_certificate(base):
    puzzle, answer = base
    result = get_solver("fast").solve(puzzle)
    assert score(puzzle, result.permutation, answer).exact
    cert = result.certificate
    assert cert["kind"] == "zero-loss"
    assert cert["all_rows"] == puzzle.n_rows
    assert cert["final_mse_all_rows"] == pytest.approx(mse(puzzle, result.permutation), abs=1e-9)
    assert {s.stage for s in result.stages} >= {"pairing", "seed", "search"}


def test_exact_after_function_preserving_reparametrisation(base):
    puzzle, answer = base
    pairs = list(Assembly.from_permutation(answer.permutation, puzzle.roles).blocks)
    twisted = reparametrise(puzzle, pairs, seed=1)
    assert mse(twisted, answer.permutation) < 1e-12  # the same function ...
    moved = [i for i, (a, b) in enumerate(zip(twisted.pieces, puzzle.pieces)) if not torch.allclose(a.weight, b.weight)]
    assert len(moved) == 2 * puzzle.architecture.depth  # ... with different weights
    result = get_solver("fast").solve(twisted)
    assert score(twisted, result.permutation, answer).exact


def test_noisy_pieces_give_the_mse_minimiser_and_a_local_optimum_certificate(base):
    puzzle, answer = base
    lossy = noisy(puzzle, sigma=0.02)
    assert mse(lossy, answer.permutation) > 1e-8  # the answer no longer reaches zero
    result = get_solver("fast").solve(lossy)
    assert score(lossy, result.permutation, answer).exact
    cert = result.certificate
    assert cert["kind"] == "local-optimum"
    assert cert["best_neighbour_loss"] >= cert["loss"] and cert["moves_checked"] > 0
    # Every re-pairing of the doubt step is far worse in place than the order found, so none is
    # descended from or searched on.
    doubt = next(s for s in result.stages if s.stage == "doubt")
    assert len(doubt.details["in_place"]) == 6 and min(doubt.details["in_place"].values()) > 10 * cert["loss"]
    assert doubt.details["descended"] == {} and doubt.rounds == 0
    assert not any(s.method.startswith("re-paired") for s in result.stages)
    # The certificate's claim, checked independently on all rows: no adjacent block swap helps.
    final = mse(lossy, result.permutation)
    assert cert["final_mse_all_rows"] == pytest.approx(final, rel=1e-4)
    blocks = list(Assembly.from_permutation(result.permutation, lossy.roles).blocks)
    for p in range(len(blocks) - 1):
        swapped = blocks[:p] + [blocks[p + 1], blocks[p]] + blocks[p + 2 :]
        assert mse(lossy, Assembly(tuple(swapped), lossy.roles.last).permutation()) > final
