"""The whitened loss: a row-mixing metric that keeps the MSE's global optimum, and attempts on it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers.synthetic import make_puzzle

from reassembly.kernel import PieceStack
from reassembly.kernel.screens import predict_insertions
from solvers.fast import Descent, IteratedSearch, Whitening
from solvers.fast.context import Context
from solvers.fast.moves import insertion_order
from solvers.fast.whitening import insertion_effects, whitened, whitening_metric
from solvers.rows import evaluator


@pytest.fixture(scope="module")
def truth():
    """A small puzzle's true arrangement and a 128-row float64 evaluator."""
    puzzle, answer = make_puzzle(depth=10, width=12, rows=300, seed=5)
    stack = PieceStack(puzzle, torch.float64)
    t = answer.assembly(puzzle.layout)
    return stack.arrangement(t), evaluator(puzzle, stack, t.head, 128)


def shuffled(arr: torch.Tensor) -> torch.Tensor:
    D = arr.shape[0]
    return arr[torch.tensor([1, 0, *range(2, D - 3), D - 1, D - 3, D - 2])]


def test_a_transform_mixes_rows_and_the_identity_changes_nothing(truth):
    arr, ev = truth
    final = ev.states(shuffled(arr))[-1]
    n = ev.n_rows
    assert torch.allclose(
        ev.with_rows(ev.X, ev.target, lambda e: torch.eye(n, dtype=e.dtype) @ e).loss(final), ev.loss(final)
    )
    L = torch.randn(n, n, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    err = ev.output(final) - ev.target
    assert torch.allclose(ev.with_rows(ev.X, ev.target, lambda e: L @ e).loss(final), (L @ err).pow(2).mean())


def test_the_whitened_loss_keeps_the_true_order_at_zero(truth):
    arr, ev = truth
    L = whitening_metric(ev, shuffled(arr), window=3, lam=1e-2)
    assert torch.allclose(L, L.T)
    w = whitened(ev, shuffled(arr), 3, 1e-2)
    assert float(w.loss(w.states(arr)[-1])) < 1e-20
    assert float(w.loss(w.states(shuffled(arr))[-1])) > 1e-8


def test_the_metric_whitens_the_move_effects(truth):
    """``L C L`` has eigenvalues ``e / (e + λ)`` in [0, 1), with the top ones close to 1."""
    arr, ev = truth
    start, lam = shuffled(arr), 1e-2
    V = insertion_effects(ev, start, window=3).flatten(1)
    C = V.T @ V
    C = C / (C.trace() / C.shape[0])
    L = whitening_metric(ev, start, 3, lam)
    eig = torch.linalg.eigvalsh(L @ C @ L)
    assert eig.min() > -1e-9 and eig.max() < 1 and eig.max() > 0.9


def test_insertion_effects_predict_the_output_change_to_first_order(truth):
    arr, ev = truth
    D = arr.shape[0]
    effects = insertion_effects(ev, arr, window=2)
    moves = [(k, t) for k in range(D) for t in range(max(0, k - 2), min(D, k + 3) + 1) if t not in (k, k + 1)]
    assert effects.shape == (len(moves), ev.n_rows, 1)
    base = ev.output(ev.states(arr)[-1]).flatten()
    cosines = []
    for row, (k, t) in enumerate(moves):
        exact = ev.output(ev.states(arr[torch.tensor(insertion_order(D, k, t))])[-1]).flatten() - base
        cosines.append(float(torch.nn.functional.cosine_similarity(effects[row].flatten(), exact, dim=0)))
    cosines = torch.tensor(cosines)
    assert cosines.median() > 0.3 and (cosines > 0).float().mean() > 0.8, cosines  # a 12-wide toy: far from linear
    resid = ev.output(ev.states(arr)[-1]) - ev.target  # the same first-order model as the insertion screen
    screened = predict_insertions(ev, arr)
    for row, (k, t) in enumerate(moves):
        assert torch.isclose((resid + effects[row]).pow(2).mean(), screened[k, t])


def test_an_attempt_ends_on_a_settled_mse_order_never_reported_wrong(truth):
    """After its whitened iterated search, an attempt descends on the MSE before it reports: the
    order it returns is one the MSE descent leaves in place, with the MSE it reports."""
    arr, ev = truth
    start = arr[torch.tensor([1, 0, 7, 2, 9, 8, 6, 4, 3, 5])]
    start_mse = float(ev.loss(ev.states(start)[-1]))
    ctx = Context(Descent(), 1e-9, [], 0)
    found, reported = Whitening(kicks=1).attempt(ctx, IteratedSearch(), ev, start, start_mse, np.random.default_rng(0))
    assert reported == pytest.approx(float(ev.loss(ev.states(found)[-1])))
    again, again_mse, _, _ = ctx.descend(ev, found)
    assert torch.equal(again, found) and again_mse == pytest.approx(reported)
    assert ctx.stages[-1].stage == "whitened-search"
