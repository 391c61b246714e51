"""The evaluation kernel, for every block family: every fast path agrees with a plain forward and
with autograd, and the first-order screens track exact losses."""

from __future__ import annotations

import pytest
import torch
from helpers.synthetic import make_puzzle

from reassembly.families import FAMILY_NAMES, get_family
from reassembly.kernel import Evaluator, PieceStack
from reassembly.kernel.screens import predict_exchanges, predict_insertions, predict_swaps, swap_effects
from reassembly.scoring import network_mse


@pytest.fixture(scope="module", params=FAMILY_NAMES)
def case(request):
    """A family's small puzzle, its true arrangement and a float64 evaluator on all rows."""
    puzzle, answer = make_puzzle(depth=6, width=5, hidden=7, rows=60, seed=1, family=request.param)
    stack = PieceStack(puzzle, torch.float64)
    truth = answer.assembly(puzzle.layout)
    return puzzle, truth, stack, Evaluator(stack, truth.head, puzzle.X, puzzle.pred)


def plain_forward(puzzle, stack, arr, head, X):
    """The network written out with the family's branch only (no fused or compiled paths)."""
    fam = puzzle.family
    h = X
    for row in arr.tolist():
        h = h + fam.branch(stack.at(row), h)
    return fam.head(stack.head(head), h)


def test_states_mse_and_batched_losses_agree_with_a_plain_forward(case):
    puzzle, truth, stack, ev = case
    arr = stack.arrangement(truth)
    gen = torch.Generator().manual_seed(0)
    others = torch.stack([arr[torch.randperm(len(arr), generator=gen)] for _ in range(5)])
    plain = [float((plain_forward(puzzle, stack, a, truth.head, puzzle.X) - puzzle.pred).pow(2).mean()) for a in others]
    states = ev.states(arr)
    assert float(ev.loss(states[-1])) < 1e-20 and ev.mse(arr) < 1e-20
    assert [ev.mse(a) for a in others] == pytest.approx(plain, rel=1e-9)
    assert ev.run(others).tolist() == pytest.approx(plain, rel=1e-9)
    # Suffix losses from the cached prefix of ``arr``: candidates agree with it before ``start``.
    starts = torch.tensor([2, 3, 0, 5, 1])
    cands = arr.repeat(5, 1, 1)
    for b, s in enumerate(starts.tolist()):
        cands[b, s:] = arr[s:][torch.randperm(len(arr) - s, generator=gen)]
    direct = [float((plain_forward(puzzle, stack, c, truth.head, puzzle.X) - puzzle.pred).pow(2).mean()) for c in cands]
    before = ev.evaluations
    assert ev.suffix_losses(cands, starts, states).tolist() == pytest.approx(direct, rel=1e-9, abs=1e-18)
    assert ev.evaluations == before + 5  # every candidate network counts once


def test_suffix_losses_on_few_rows_run_grouped_by_block_and_agree(case):
    """On very few rows the kernel runs candidates grouped by block (weights outweigh states); that
    path must give the plain forward's losses too, for every family."""
    puzzle, truth, stack, ev = case
    few = ev.with_rows(puzzle.X[:1], puzzle.pred[:1])
    assert few._by_block
    arr = stack.arrangement(truth)
    gen = torch.Generator().manual_seed(1)
    cands = torch.stack([arr[torch.randperm(len(arr), generator=gen)] for _ in range(4)])
    direct = [
        float((plain_forward(puzzle, stack, c, truth.head, puzzle.X[:1]) - puzzle.pred[:1]).pow(2).mean())
        for c in cands
    ]
    assert few.run(cands).tolist() == pytest.approx(direct, rel=1e-9, abs=1e-18)


def test_scoring_uses_the_same_forward(case):
    puzzle, truth, _, _ = case
    assert network_mse(puzzle, truth) < 1e-20


def test_jacobians_match_autograd(case):
    puzzle, truth, stack, ev = case
    arr = stack.arrangement(truth).flip(0)  # any order: the Jacobians are of the network it builds
    states = ev.states(arr)
    J = ev.jacobians(arr, states)
    for t in (0, 3, len(arr)):
        h = states[t].clone().requires_grad_(True)
        y = h
        for row in arr[t:].tolist():
            y = y + puzzle.family.branch(stack.at(row), y)
        out = puzzle.family.head(stack.head(truth.head), y)
        (grad,) = torch.autograd.grad(out.sum(), h)
        assert torch.allclose(J[t].sum(1), grad, atol=1e-10), t


def test_the_default_autograd_vjp_agrees_with_each_familys_analytic_one(case):
    from reassembly.families.base import BlockFamily

    puzzle, truth, stack, ev = case
    p = stack.at(stack.arrangement(truth)[2].tolist())
    h = torch.randn(9, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    c = torch.randn(9, 2, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    analytic = puzzle.family.branch_vjp(p, h, c)
    generic = BlockFamily.branch_vjp(puzzle.family, p, h, c)
    assert torch.allclose(analytic, generic, atol=1e-10)


def _rank_agreement(a: torch.Tensor, b: torch.Tensor) -> float:
    ra, rb = a.argsort().argsort().double(), b.argsort().argsort().double()
    return float(torch.corrcoef(torch.stack([ra, rb]))[0, 1])


def test_first_order_screens_track_exact_losses(case):
    puzzle, truth, stack, ev = case
    arr = stack.arrangement(truth)
    start = arr[torch.tensor([1, 0, 2, 4, 3, 5])]
    states = ev.states(start)
    J = ev.jacobians(start, states)
    predicted = predict_swaps(ev, states, J, swap_effects(ev, start, states))
    swapped = torch.stack([start[torch.tensor([*range(p), p + 1, p, *range(p + 2, 6)])] for p in range(5)])
    exact = ev.run(swapped)
    assert _rank_agreement(predicted, exact) > 0.5
    ins = predict_insertions(ev, start, states)
    assert ins.shape == (6, 7) and torch.isinf(ins.diagonal()).all()
    if puzzle.family.name == "swiglu":  # exchanging gate and up within a block, screened and exact
        ex = predict_exchanges(ev, arr, ev.states(arr), ev.jacobians(arr, ev.states(arr)), 0, 1)
        within = arr.repeat(6, 1, 1)
        for p in range(6):
            within[p, p, [0, 1]] = arr[p, [1, 0]]
        assert _rank_agreement(ex.diagonal(), ev.run(within)) > 0.5


def test_every_family_has_a_forward_that_generators_can_train():
    from generators.model import build_model

    for name in FAMILY_NAMES:
        fam = get_family(name)
        model = build_model(fam, 3, {"d": 4, "h": 6, "o": 2}, seed=0, init="zero-residual")
        x = torch.randn(5, 4)
        y = model(x)
        assert y.shape == (5, 2)
        y.sum().backward()
        pieces = model.pieces()
        assert len(pieces) == 3 * len(fam.slots) + len(fam.head_slots)
