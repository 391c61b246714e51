"""Hot paths shared by the solvers: the DDR score matrix and one forward evaluation."""
from __future__ import annotations

import pytest
import torch

from reassembly.network import BlockStack, Evaluator
from solvers.stages.pairing import ddr_scores

DEPTH, WIDTH, HIDDEN, ROWS = 48, 48, 96, 10_000


def random_stack(dtype: torch.dtype, seed: int = 0) -> BlockStack:
    """Random weights of the Jane Street sizes (scale 1/sqrt(fan-in), as PyTorch's init)."""
    g = torch.Generator().manual_seed(seed)

    def t(*shape: int, fan_in: int) -> torch.Tensor:
        return (torch.randn(*shape, generator=g, dtype=torch.float64) / fan_in**0.5).to(dtype)

    return BlockStack(
        w_in=t(DEPTH, HIDDEN, WIDTH, fan_in=WIDTH), b_in=t(DEPTH, HIDDEN, fan_in=WIDTH),
        w_out=t(DEPTH, WIDTH, HIDDEN, fan_in=HIDDEN), b_out=t(DEPTH, WIDTH, fan_in=HIDDEN),
        w_last=t(1, WIDTH, fan_in=WIDTH), b_last=t(1, fan_in=WIDTH),
        pairs=tuple((2 * k, 2 * k + 1) for k in range(DEPTH)),
    )


def test_ddr_score_matrix_depth48(benchmark) -> None:
    stack = random_stack(torch.float32)
    scores = benchmark(ddr_scores, stack.w_in, stack.w_out)
    assert scores.shape == (DEPTH, DEPTH) and torch.isfinite(scores).all()
    # |tr(M)| <= sum of singular values <= sqrt(rank M) * ||M||_F, and M = W_out W_in is 48 x 48.
    assert ((scores >= 0) & (scores <= WIDTH**0.5 + 1e-9)).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_forward_evaluation_10k_rows(benchmark, dtype: torch.dtype) -> None:
    stack = random_stack(dtype)
    g = torch.Generator().manual_seed(1)
    X = torch.randint(0, 2, (ROWS, WIDTH), generator=g).to(torch.float64) * 2 - 1
    evaluator = Evaluator(stack, X, torch.zeros(ROWS, 1, dtype=torch.float64))
    order = torch.randperm(DEPTH, generator=g).tolist()
    loss = benchmark(evaluator.mse, order)
    assert loss > 0 and evaluator.evaluations >= 1
