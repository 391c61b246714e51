"""The evaluation kernel: every forward pass of an assembled network in the framework runs here.

An :class:`Evaluator` holds a :class:`~reassembly.kernel.stack.PieceStack`, the head, a row set
``X`` and the target. It computes prefix states, losses of single arrangements and of batches of
candidate arrangements that share a prefix with a cached one, and output Jacobians; every candidate
network whose loss it computes counts as one forward evaluation (``evaluations``).

It also counts the *work* its forwards do (``work``, read by :meth:`Evaluator.clock`), in seconds
of the reference machine (the project's 2-core VM, one thread): each block call costs
``CALL_SECONDS`` and each state vector through a block ``PARAM_SECONDS`` per block parameter. A
solver that reads its budget on this clock instead of the wall clock makes the same moves
whatever else the machine is doing, so its result is a function of its seed (and the float
rounding of the thread count), not of the load; a wall-clock ``guard`` still bounds its time.

A row is an input vector (states ``(n, d)``) or, for sequence families, a token sequence (states
``(n, T, d)``); losses average over every dimension of a row's output. Output Jacobians exist only
where the family supports first-order screens (``family.screens``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch

from reassembly.errors import UnsupportedPuzzle
from reassembly.families.base import Params
from reassembly.kernel.stack import PieceStack

Transform = Callable[[torch.Tensor], torch.Tensor]

# The reference machine's cost of block work: fitted to forwards of SmolLM2's and MiniLM's layers on
# 8 to 1,024 tokens on the project's VM (one thread), then scaled so that the clock keeps pace with
# the wall clock through whole solves there, two at a time (docs/studies/work_clock_study.py)
CALL_SECONDS = 4e-4
PARAM_SECONDS = 2.2e-11
# Past its guard the clock jumps by this much: beyond every deadline a budget can set
_OVERRUN = 1e9


class Evaluator:
    """Losses of arrangements of ``stack`` on rows ``X`` against ``target``.

    Parameters
    ----------
    stack
        The pieces, stacked by pool in the dtype of evaluation.
    head
        Piece ids of the head (in the family's head-slot order).
    X, target
        Rows ``(n, d)`` and the outputs to match ``(n, o)`` (sequence families: ``(n, T, d)`` both);
        cast to the stack's dtype.
    transform
        Optional map of output errors ``(..., n, o)`` applied before squaring (a solver's metric);
        the loss is then ``mean(transform(err)²)``. ``None``: the mean squared error.
    """

    def __init__(
        self,
        stack: PieceStack,
        head: tuple[int, ...],
        X: torch.Tensor,
        target: torch.Tensor,
        transform: Transform | None = None,
    ) -> None:
        self.stack = stack
        self.family = stack.family
        self.head = tuple(head)
        self.head_params: Params = stack.head(self.head)
        self.X = X.to(stack.dtype)
        self.target = target.to(stack.dtype)
        self.transform = transform
        self.evaluations = 0
        self.work = 0.0
        self.guard: float | None = None
        self._overrun = 0.0
        self._payer: Evaluator | None = None  # also counts this one's work and evaluations (first_rows)
        self._row_dims = tuple(range(-self.X.ndim, 0))  # a row's output: (n, o) or (n, T, d)
        self._row_size = math.prod(self.X.shape[1:-1])  # state vectors per row (1, or T tokens)
        # Batches of candidates run each block with its weights gathered per candidate; where a
        # block's weights outweigh a candidate's states (large layers on few rows), copying them
        # costs more than the block itself, and candidates run grouped by block instead.
        params = sum(
            w.numel() // w.shape[0] + (0 if b is None else b.numel() // b.shape[0]) for w, b in stack.tensors.values()
        )
        self._by_block = params > 16 * self.X.numel()
        self.block_params = params  # one block's weights and biases: the clock's cost of a state vector
        self._vectors = math.prod(self.X.shape[:-1])  # state vectors of one state (every row and token)

    def with_rows(self, X: torch.Tensor, target: torch.Tensor, transform: Transform | None = None) -> Evaluator:
        """An evaluator of the same pieces and head on other rows (its own evaluation count)."""
        return Evaluator(self.stack, self.head, X, target, transform)

    def first_rows(self, n: int) -> Evaluator:
        """An evaluator on the first ``n`` rows whose work and evaluations also count on this one (a
        screen of candidates on part of the rows, on the same clock).

        Parameters
        ----------
        n
            Rows kept (at most this evaluator's).
        """
        sub = self.with_rows(self.X[:n], self.target[:n], self.transform)
        sub._payer = self
        return sub

    def _count(self, evaluations: int, work: float) -> None:
        self.evaluations += evaluations
        self.work += work
        if self._payer is not None:
            self._payer._count(evaluations, work)

    def charge(self, calls: int, vectors: int, factor: float = 1.0) -> None:
        """Count block work done outside this evaluator's own forwards (a solver's relaxed fits).

        Parameters
        ----------
        calls
            Block calls.
        vectors
            State vectors through them, in all.
        factor
            Multiplies both (3 for a forward whose backward pass follows).
        """
        self._count(0, factor * (calls * CALL_SECONDS + vectors * self.block_params * PARAM_SECONDS))

    def clock(self) -> float:
        """Seconds of block work counted so far, at the reference machine's rate: deterministic,
        whatever the load. Once ``guard`` (a ``time.monotonic()`` value, where set) has passed,
        the clock jumps beyond every deadline a budget can set, so a solver reading its deadlines
        on it stops at the wall-clock guard as well."""
        if not self._overrun and self.guard is not None and time.monotonic() > self.guard:
            self._overrun = _OVERRUN
        return self.work + self._overrun

    @property
    def past_guard(self) -> bool:
        """Whether the clock has passed its wall-clock guard (the budget was cut short)."""
        return bool(self._overrun)

    @property
    def n_rows(self) -> int:
        return int(self.X.shape[0])

    def output(self, h: torch.Tensor) -> torch.Tensor:
        """The head applied to final states ``(..., n, d)``."""
        return self.family.head(self.head_params, h)

    def weigh(self, err: torch.Tensor) -> torch.Tensor:
        return err if self.transform is None else self.transform(err)

    def loss(self, h: torch.Tensor) -> torch.Tensor:
        """Loss of final states ``(n, d)`` or ``(B, n, d)``: one value per leading batch entry."""
        return self.weigh(self.output(h) - self.target).pow(2).mean(dim=self._row_dims)

    def states(
        self, arr: torch.Tensor, states: torch.Tensor | None = None, start: int = 0, out: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Prefix states ``(D + 1, n, d)`` of ``arr``: ``states[t]`` enters position ``t``.

        With ``states`` of an arrangement that agrees with ``arr`` before ``start``, only positions
        from ``start`` on are recomputed. ``out`` is a buffer to reuse (it may be ``states`` itself
        only where those may be overwritten).
        """
        D = arr.shape[0]
        if out is None:
            out = torch.empty(D + 1, *self.X.shape, dtype=self.X.dtype)
        if states is None or start == 0:
            out[0] = self.X
            start = 0
        elif out is not states:
            out[: start + 1] = states[: start + 1]
        compiled = self.stack.compiled
        for t, row in enumerate(arr.tolist()[start:], start):
            compiled(row)(out[t], out=out[t + 1])
        self._count(1, 0.0)
        self.charge(D - start, (D - start) * self._vectors)
        return out

    def mse(self, arr: torch.Tensor, chunk: int = 2048) -> float:
        """Mean squared error of ``arr`` on all rows (no transform), streamed in row chunks
        without keeping states."""
        blocks = [self.stack.compiled(row) for row in arr.tolist()]
        total = 0.0
        chunk = max(1, chunk // self._row_size)
        for start in range(0, self.n_rows, chunk):
            h = self.X[start : start + chunk]
            for block in blocks:
                h = block(h)
            total += float((self.output(h) - self.target[start : start + chunk]).pow(2).sum())
        self._count(1, 0.0)
        self.charge(len(blocks) * math.ceil(self.n_rows / chunk), len(blocks) * self._vectors)
        return total / self.target.numel()

    def suffix_losses(
        self, arrs: torch.Tensor, starts: torch.Tensor, states: torch.Tensor, chunk_rows: int = 8192
    ) -> torch.Tensor:
        """Losses of candidate arrangements ``arrs`` ``(B, D, S)`` that agree with a cached one
        before ``starts[b]``; ``states`` are the cached one's prefix states.

        Candidates sorted by start run as a leading slice from each position on (no gathers of
        states); chunks of about ``chunk_rows`` state rows keep the working set in cache.
        """
        arrs = torch.as_tensor(arrs, dtype=torch.long)
        starts = torch.as_tensor(starts, dtype=torch.long)
        if arrs.shape[0] == 0:
            return torch.empty(0, dtype=self.X.dtype)
        rank = torch.argsort(starts, stable=True)
        arrs, starts = arrs[rank], starts[rank]
        step = max(1, chunk_rows // (self.n_rows * self._row_size))
        losses = torch.cat(
            [
                self._sorted_suffix_losses(arrs[i : i + step], starts[i : i + step], states)
                for i in range(0, len(arrs), step)
            ]
        )
        self._count(int(arrs.shape[0]), 0.0)
        return losses[torch.argsort(rank)]

    def _sorted_suffix_losses(self, arrs: torch.Tensor, starts: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        D = arrs.shape[1]
        active = torch.searchsorted(starts, torch.arange(D), right=True).tolist()
        h = states[starts]
        gather, block = self.stack.gather, self.family.block
        for t in range(int(starts[0]), D):
            m = active[t]
            if self._by_block:
                rows, which = torch.unique(arrs[:m, t], dim=0, return_inverse=True)
                for k, row in enumerate(rows.tolist()):
                    idx = (which == k).nonzero().flatten()
                    x = h[idx]  # (k, n, ...): the candidates' rows as one batch of rows for the block
                    h[idx] = self.stack.compiled(row)(x.reshape(-1, *x.shape[2:])).reshape(x.shape)
                    self.charge(1, len(idx) * self._vectors)
            else:
                h[:m] = block(gather(arrs[:m, t]), h[:m])
                self.charge(1, m * (self._vectors + 1))  # the gather copies one block's weights a candidate
        return self.loss(h)

    def run(self, arrs: torch.Tensor) -> torch.Tensor:
        """Losses of whole candidate arrangements ``(B, D, S)`` from the input rows."""
        states = self.X.unsqueeze(0)
        return self.suffix_losses(arrs, torch.zeros(len(arrs), dtype=torch.long), states)

    def jacobians(self, arr: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        """``J[t]`` ``(D + 1, n, o, d)``: Jacobian of the output with respect to the state entering
        position ``t`` (``J[D]``: the head's). Raises :class:`UnsupportedPuzzle` for families
        without first-order screens (a sequence's Jacobian is ``(T d) x (T d)`` per row)."""
        if not self.family.screens:
            raise UnsupportedPuzzle(
                f"first-order screens (output Jacobians) do not apply to the {self.family.name!r} "
                f"family: its rows are token sequences; use exact evaluations (solver "
                f"{self.family.solver!r})"
            )
        D, n = arr.shape[0], self.n_rows
        last = self.family.head_vjp(self.head_params, n)
        J = torch.empty(D + 1, *last.shape, dtype=states.dtype)
        J[D] = last
        ctx = self.family.vjp_context(self.stack.gather(arr), states[:-1])
        compiled = self.stack.compiled
        for t, row in zip(range(D - 1, -1, -1), reversed(arr.tolist())):
            compiled(row).vjp(ctx[t], J[t + 1], out=J[t])
        self.charge(D, D * n * int(last.shape[-2]), 2.0)
        return J
