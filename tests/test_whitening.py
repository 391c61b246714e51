"""The whitened loss: a row-mixing metric that keeps the MSE's global optimum."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers.synthetic import make_puzzle

from reassembly.network import BlockStack, Evaluator
from reassembly.permutation import Assembly
from solvers.fast import FastSolver
from solvers.stages.insertion import insertion_order, predict_insertions
from solvers.stages.states import Config, forward_states
from solvers.stages.whitening import insertion_effects, whitening_metric


@pytest.fixture(scope="module")
def truth():
    """A small puzzle stacked in its true block order and a 128-row float64 evaluator."""
    puzzle, answer = make_puzzle(depth=10, width=12, rows=300, seed=5)
    stack = BlockStack.from_pairs(puzzle, Assembly.from_permutation(answer.permutation, puzzle.roles).blocks, torch.float64)
    return stack, Evaluator.for_puzzle(puzzle, stack, 128, seed=0)


def identity(D: int) -> Config:
    return Config(torch.arange(D), torch.arange(D))


def shuffled(D: int) -> Config:
    order = torch.tensor([1, 0, *range(2, D - 3), D - 1, D - 3, D - 2])
    return Config(order, order.clone())


def test_a_metric_mixes_rows_and_the_identity_changes_nothing(truth):
    stack, ev = truth
    cfg = shuffled(stack.depth)
    final = forward_states(ev, cfg)[-1]
    n = ev.X.shape[0]
    assert torch.allclose(ev.with_metric(torch.eye(n)).loss(final), ev.loss(final))
    L = torch.randn(n, n, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    err = stack.head(final) - ev.target
    assert torch.allclose(ev.with_metric(L).loss(final), (L @ err).pow(2).mean())
    assert ev.with_metric(L).first_rows(10).metric is None  # row subsets are plain


def test_the_whitened_loss_keeps_the_true_order_at_zero(truth):
    stack, ev = truth
    L = whitening_metric(ev, shuffled(stack.depth), window=3, lam=1e-2)
    assert torch.allclose(L, L.T)
    wev = ev.with_metric(L)
    assert float(wev.loss(forward_states(wev, identity(stack.depth))[-1])) < 1e-20
    assert float(wev.loss(forward_states(wev, shuffled(stack.depth))[-1])) > 1e-8


def test_the_metric_whitens_the_move_effects(truth):
    """``L C L`` has eigenvalues ``e / (e + λ)`` in [0, 1), with the top ones close to 1."""
    stack, ev = truth
    cfg, lam = shuffled(stack.depth), 1e-2
    V = insertion_effects(ev, cfg, window=3)
    C = V.T @ V
    C = C / (C.trace() / C.shape[0])
    L = whitening_metric(ev, cfg, 3, lam)
    whitened = torch.linalg.eigvalsh(L @ C @ L)
    assert whitened.min() > -1e-9 and whitened.max() < 1
    assert whitened.max() > 0.9


def test_insertion_effects_predict_the_output_change_to_first_order(truth):
    stack, ev = truth
    D = stack.depth
    cfg = identity(D)
    effects = insertion_effects(ev, cfg, window=2)
    moves = [(k, t) for k in range(D) for t in range(max(0, k - 2), min(D, k + 3) + 1) if t not in (k, k + 1)]
    assert effects.shape == (len(moves), ev.X.shape[0])
    base = stack.head(forward_states(ev, cfg)[-1]).flatten()
    cosines = []
    for row, (k, t) in enumerate(moves):
        order = torch.tensor(insertion_order(D, k, t))
        exact = stack.head(forward_states(ev, Config(order, order.clone()))[-1]).flatten() - base
        cosines.append(float(torch.nn.functional.cosine_similarity(effects[row], exact, dim=0)))
    cosines = torch.tensor(cosines)
    assert cosines.median() > 0.5 and cosines.min() > 0, cosines  # a 12-wide toy: far from linear
    # the same first-order model as the insertion screen
    resid = (stack.head(forward_states(ev, cfg)[-1]) - ev.target).flatten()
    screened = predict_insertions(ev, cfg)
    for row, (k, t) in enumerate(moves):
        assert torch.isclose((resid + effects[row]).pow(2).mean(), screened[k, t])


def test_a_whitened_attempt_returns_its_best_round_never_worse_than_its_start(truth):
    stack, ev = truth
    D = stack.depth
    order = torch.tensor([3, 0, 5, 1, 2, 4, 9, 6, 8, 7][:D])
    start = Config(order, order.clone())
    start_mse = float(ev.loss(forward_states(ev, start)[-1]))
    stages = []
    solver = FastSolver(alternations=4, alternation_patience=1)
    found, reported = solver._whitened_search(start, start_mse, ev, stages)
    found_mse = float(ev.loss(forward_states(ev, found)[-1]))
    assert reported == pytest.approx(found_mse)
    history = stages[-1].details["mse_history"]
    assert 1 <= len(history) <= 4
    assert found_mse <= start_mse
    assert found_mse == pytest.approx(min([start_mse, *history])) == pytest.approx(stages[-1].mse)
    # patience 1: every round but the last improved on the best before it
    best = start_mse
    for mse in history[:-1]:
        assert mse < best
        best = mse


def test_an_attempt_with_kicks_ends_on_a_settled_mse_order(truth):
    """After its whitened iterated search, an attempt descends on the MSE before it reports: the
    order it returns is one the MSE descent leaves in place, with the MSE it reports."""
    _, ev = truth
    order = torch.tensor([1, 0, 7, 2, 9, 8, 6, 4, 3, 5])  # one whitened step does not settle it on the MSE
    start = Config(order, order.clone())
    start_mse = float(ev.loss(forward_states(ev, start)[-1]))
    solver = FastSolver(alternations=0)
    found, reported = solver._whitened_search(start, start_mse, ev, [], kicks=1, rng=np.random.default_rng(0))
    assert reported == pytest.approx(float(ev.loss(forward_states(ev, found)[-1])))
    again, again_mse, _, _ = solver._local(ev, found)
    assert again.same_as(found) and again_mse == pytest.approx(reported)
