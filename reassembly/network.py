"""Assembled-network evaluation: the hot path shared by scoring and solvers.

Blocks are stacked into tensors once; orders are sequences of block indices into that stack.
Batched evaluation runs many candidate orders at once with ``baddbmm`` and prefix states.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Sequence

import torch

from reassembly.permutation import Assembly
from reassembly.puzzle import Puzzle


@dataclass(frozen=True)
class BlockStack:
    """Weights of ``D`` candidate blocks stacked for batched evaluation, plus the last layer."""

    w_in: torch.Tensor  # (D, h, d)
    b_in: torch.Tensor  # (D, h)
    w_out: torch.Tensor  # (D, d, h)
    b_out: torch.Tensor  # (D, d)
    w_last: torch.Tensor  # (o, d)
    b_last: torch.Tensor  # (o,)
    pairs: tuple[tuple[int, int], ...]  # piece ids (inp, out) of each stacked block

    @classmethod
    def from_pairs(
        cls, puzzle: Puzzle, pairs: Sequence[tuple[int, int]], dtype: torch.dtype = torch.float64
    ) -> "BlockStack":
        p = puzzle.pieces
        last = p[puzzle.roles.last]
        return cls(
            w_in=torch.stack([p[i].weight for i, _ in pairs]).to(dtype),
            b_in=torch.stack([p[i].bias for i, _ in pairs]).to(dtype),
            w_out=torch.stack([p[o].weight for _, o in pairs]).to(dtype),
            b_out=torch.stack([p[o].bias for _, o in pairs]).to(dtype),
            w_last=last.weight.to(dtype),
            b_last=last.bias.to(dtype),
            pairs=tuple((int(i), int(o)) for i, o in pairs),
        )

    @cached_property
    def layers(self) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
        """Per-block ``w_in.T``, ``b_in``, ``w_out.T``, ``b_out`` as lists of views, for loops over
        positions (indexing a list costs less than indexing a tensor)."""
        return list(self.w_in.transpose(1, 2)), list(self.b_in), list(self.w_out.transpose(1, 2)), list(self.b_out)

    @property
    def depth(self) -> int:
        return int(self.w_in.shape[0])

    def branch(self, k: int, h: torch.Tensor) -> torch.Tensor:
        """Residual branch ``out_k(relu(inp_k(h)))`` of block ``k``."""
        a = torch.addmm(self.b_in[k], h, self.w_in[k].T).relu_()
        return torch.addmm(self.b_out[k], a, self.w_out[k].T)

    def block(self, k: int, h: torch.Tensor) -> torch.Tensor:
        return h + self.branch(k, h)

    def blocks(self, ks: torch.Tensor, h: torch.Tensor, outs: torch.Tensor | None = None) -> torch.Tensor:
        """Apply block ``ks[b]`` to ``h[b]`` for a batch: ``h`` is ``(B, n, d)``.

        With ``outs``, input projection ``ks[b]`` is combined with output projection ``outs[b]``
        (candidate re-pairings).
        """
        outs = ks if outs is None else outs
        a = torch.baddbmm(self.b_in[ks].unsqueeze(1), h, self.w_in[ks].transpose(1, 2)).relu_()
        return torch.baddbmm(self.b_out[outs].unsqueeze(1), a, self.w_out[outs].transpose(1, 2)).add_(h)

    def head(self, h: torch.Tensor) -> torch.Tensor:
        return h @ self.w_last.T + self.b_last


def forward(puzzle: Puzzle, permutation: Sequence[int], dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Outputs ``(N, out)`` of the network that ``permutation`` assembles, on ``puzzle.X``."""
    assembly = Assembly.from_permutation(permutation, puzzle.roles)
    stack = BlockStack.from_pairs(puzzle, assembly.blocks, dtype)
    h = puzzle.X.to(dtype)
    for k in range(stack.depth):
        h = stack.block(k, h)
    return stack.head(h)


def mse(puzzle: Puzzle, permutation: Sequence[int]) -> float:
    """Mean squared error (float64) of the assembled network against ``pred``."""
    out = forward(puzzle, permutation)
    return float(((out - puzzle.pred.to(out.dtype)) ** 2).mean())


class Evaluator:
    """Counts and runs evaluations of block orders on a fixed row subset.

    ``order`` arguments are sequences of indices into ``stack``. Every candidate network whose
    loss is computed (fully or from cached prefix states) counts as one forward evaluation.
    """

    def __init__(self, stack: BlockStack, X: torch.Tensor, target: torch.Tensor, metric: torch.Tensor | None = None) -> None:
        dtype = stack.w_in.dtype
        self.stack = stack
        self.X = X.to(dtype)
        self.target = target.to(dtype)
        self.metric = None if metric is None else metric.to(dtype)
        self.evaluations = 0

    @classmethod
    def for_puzzle(
        cls,
        puzzle: Puzzle,
        stack: BlockStack,
        rows: int | None = None,
        seed: int = 0,
        sampling: str = "random",
    ) -> "Evaluator":
        """Evaluator on ``rows`` rows drawn without replacement with ``seed`` (``sampling="head"``:
        the first ``rows``), or on all rows when ``rows`` is ``None``."""
        X, y = puzzle.X, puzzle.pred
        if rows is not None and rows < puzzle.n_rows:
            if sampling == "head":
                idx = torch.arange(rows)
            else:
                idx = torch.randperm(puzzle.n_rows, generator=torch.Generator().manual_seed(seed))[:rows]
            X, y = X[idx], y[idx]
        return cls(stack, X, y)

    def first_rows(self, rows: int) -> "Evaluator":
        """A plain evaluator on the first ``rows`` of this one's rows (same stack; own evaluation count)."""
        return Evaluator(self.stack, self.X[:rows], self.target[:rows])

    def with_metric(self, metric: torch.Tensor | None) -> "Evaluator":
        """The same rows with the loss ``mean((metric @ err)²)`` (``metric``: ``(n, n)``, mixing rows)."""
        return Evaluator(self.stack, self.X, self.target, metric)

    def weigh(self, err: torch.Tensor) -> torch.Tensor:
        """Output errors ``(..., n, o)`` as the loss sees them: mixed over rows by the metric, if any."""
        return err if self.metric is None else self.metric @ err

    def loss(self, h: torch.Tensor) -> torch.Tensor:
        """Loss of final states ``h`` (``(n, d)`` or ``(B, n, d)``), one value per leading batch
        entry: the MSE, or with a metric the mean squared weighed error."""
        return self.weigh(self.stack.head(h) - self.target).pow(2).mean(dim=(-2, -1))

    def states(self, order: Sequence[int]) -> torch.Tensor:
        """Prefix states ``(D + 1, n, d)``: ``states[t]`` is the input of position ``t``."""
        out = [self.X]
        h = self.X
        for k in order:
            h = self.stack.block(int(k), h)
            out.append(h)
        self.evaluations += 1
        return torch.stack(out)

    def mse(self, order: Sequence[int]) -> float:
        h = self.X
        for k in order:
            h = self.stack.block(int(k), h)
        self.evaluations += 1
        return float(self.loss(h))

    def suffix_losses(
        self, orders: torch.Tensor, starts: torch.Tensor, states: torch.Tensor, outs: torch.Tensor | None = None,
        chunk_rows: int = 8192,
    ) -> torch.Tensor:
        """Losses of candidate ``orders`` ``(B, D)`` that agree with the cached order before ``starts[b]``.

        ``states`` are the prefix states of the cached order; candidate ``b`` starts from
        ``states[starts[b]]`` and runs positions ``starts[b]..D-1``. ``outs`` (same shape as
        ``orders``) names each position's output projection where it differs from its input's.
        """
        orders = torch.as_tensor(orders, dtype=torch.long)
        starts = torch.as_tensor(starts, dtype=torch.long)
        outs = orders if outs is None else torch.as_tensor(outs, dtype=torch.long)
        if orders.numel() == 0:
            return torch.empty(0, dtype=self.X.dtype)
        # Sorted by start, the candidates running at position t are a leading slice (no gathers);
        # chunks of about ``chunk_rows`` state rows keep the working set in cache.
        rank = torch.argsort(starts, stable=True)
        orders, outs, starts = orders[rank], outs[rank], starts[rank]
        step = max(1, chunk_rows // self.X.shape[0])
        losses = torch.cat([self._sorted_suffix_losses(orders[i : i + step], starts[i : i + step], states, outs[i : i + step])
                            for i in range(0, len(orders), step)])
        self.evaluations += int(orders.shape[0])
        return losses[torch.argsort(rank)]

    def _sorted_suffix_losses(self, orders: torch.Tensor, starts: torch.Tensor, states: torch.Tensor, outs: torch.Tensor) -> torch.Tensor:
        active = torch.searchsorted(starts, torch.arange(orders.shape[1]), right=True).tolist()
        h = states[starts]
        for t in range(int(starts[0]), orders.shape[1]):
            m = active[t]
            h[:m] = self.stack.blocks(orders[:m, t], h[:m], outs[:m, t])
        return self.loss(h)
