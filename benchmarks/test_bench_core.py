"""Hot paths of the evaluation kernel and grouping, at the Jane Street sizes, for every family."""

from __future__ import annotations

import pytest
import torch

from reassembly.families import FAMILY_NAMES
from reassembly.kernel import Evaluator, PieceStack
from reassembly.puzzle import Piece, Puzzle
from solvers.grouping import ddr_scores, unit_scores

DEPTH, WIDTH, HIDDEN, ROWS = 48, 48, 96, 10_000


def random_puzzle(family: str, seed: int = 0) -> Puzzle:
    """Random pieces of the Jane Street sizes (scale 1/sqrt(fan-in), as PyTorch's init), in id order."""
    from reassembly.families import get_family

    fam = get_family(family)
    g = torch.Generator().manual_seed(seed)
    sizes = {"d": WIDTH, "h": HIDDEN, "o": 1}
    pieces = []
    for slot in [s for _ in range(DEPTH) for s in fam.slots] + list(fam.head_slots):
        shape = slot.dims(sizes)
        w = (
            torch.randn(shape, generator=g, dtype=torch.float64) / shape[-1] ** 0.5
            if len(shape) == 2
            else 1 + 0.1 * torch.randn(shape, generator=g, dtype=torch.float64)
        )
        w = w * 0.1 if slot.role == "write" else w  # small branches: a deep random net stays finite
        b = 0.1 * torch.randn(shape[0], generator=g, dtype=torch.float64) if slot.bias else None
        pieces.append(Piece(len(pieces), w, b))
    X = torch.randint(0, 2, (ROWS, WIDTH), generator=g).to(torch.float64) * 2 - 1
    return Puzzle(tuple(pieces), X, torch.zeros(ROWS, 1, dtype=torch.float64), family=fam)


@pytest.mark.parametrize("score", [ddr_scores, unit_scores], ids=["ddr", "units"])
def test_grouping_scores_depth48(benchmark, score) -> None:
    p = random_puzzle("relu")
    w_in = torch.stack([p.pieces[i].weight for i in p.layout.pools["inp"]]).float()
    w_out = torch.stack([p.pieces[i].weight for i in p.layout.pools["out"]]).float()
    scores = benchmark(score, w_in, w_out)
    assert scores.shape == (DEPTH, DEPTH) and torch.isfinite(scores).all()


@pytest.mark.parametrize("family", FAMILY_NAMES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_forward_evaluation_10k_rows(benchmark, family: str, dtype: torch.dtype) -> None:
    p = random_puzzle(family)
    stack = PieceStack(p, dtype)
    S = len(stack.slots)
    arr = torch.arange(DEPTH).unsqueeze(1).repeat(1, S)
    evaluator = Evaluator(stack, tuple(p.layout.pools[s][0] for s in p.layout.head_slots), p.X, p.pred)
    loss = benchmark(evaluator.mse, arr)
    assert loss > 0 and evaluator.evaluations >= 1


def test_jacobians_512_rows(benchmark) -> None:
    p = random_puzzle("relu")
    stack = PieceStack(p, torch.float32)
    arr = torch.arange(DEPTH).unsqueeze(1).repeat(1, 2)
    ev = Evaluator(stack, (p.layout.pools["last"][0],), p.X[:512], p.pred[:512])
    states = ev.states(arr)
    J = benchmark(ev.jacobians, arr, states)
    assert J.shape == (DEPTH + 1, 512, 1, WIDTH)
