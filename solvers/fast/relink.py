"""Grouping from data: which write piece belongs to which read pieces, decided by the output.

Where weight statistics do not pair the pieces (PyTorch's default initialisation leaves every
output projection close to its random start), the data must. Every write piece enters its block
linearly, last: ``branch = W_write φ(reads, x) + b_write``. So a network whose position ``a`` writes
through a *mixture* ``Σ_j β[a, j] W_j`` of the candidate write pieces is still an ordinary network,
differentiable in ``β``, and the true pairing (a permutation matrix) fits the rows exactly at the
true order. Relink fits ``β`` by L-BFGS on the exact, nonlinear loss, starting where every piece is
equally likely at every position (``β = 1/U``), and rounds it to a pairing with the Hungarian
algorithm; the order search then repairs the order for that pairing, and the fit runs again on
the new order, until the pairing stops changing.

Why the relaxed fit from the uniform start and not a step from the current pairing: around a wrong
pairing, a linearised fit explains the residual with the pairing it started from (it is
self-consistent), and rounding throws away everything the fit learned. Started at the symmetric
point, the fit owes nothing to the current pairing; it uses only the current order of the read
pieces, and a better order gives a better pairing, which gives a better order (measured in
docs/regimes.md). It uses only what defines the puzzle (the pieces, the rows and the known head),
no statistics of a training recipe, and its one constant, the L-BFGS budget, is a convergence
budget, not a property of a net. Its cost is ``iterations`` forward and backward passes over
``rows_per_unknown · U² / o`` rows for ``U`` blocks regrouped, so it runs only where the weight
scores leave some block's pairing in doubt (:attr:`solvers.grouping.Grouping.margin`), and where
the rows cannot determine ``U²`` coefficients, only among the blocks in doubt.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from reassembly.families.base import SlotParams
from reassembly.kernel import Evaluator
from reassembly.params import Configurable, Interval
from reassembly.solver import StageReport
from solvers.fast.context import Context

Improve = Callable[[torch.Tensor], tuple[torch.Tensor, float]]


#: L-BFGS steps between two looks at the clock.
STEPS_BETWEEN_CHECKS = 10


def hidden(ev: Evaluator, rows: torch.Tensor, states: torch.Tensor, write: int) -> torch.Tensor:
    """Hidden activations ``(k, n, h)`` entering the write pieces of positions ``rows`` ``(k, S)``
    from the states ``(k, n, d)`` entering them: each branch with its write piece replaced by the
    identity (a write piece enters its branch linearly, last)."""
    params = dict(ev.stack.gather(rows))
    name = ev.stack.slots[write]
    w = params[name].weight
    h = w.shape[-1]
    eye = torch.eye(h, dtype=w.dtype).expand(rows.shape[0], h, h)
    params[name] = SlotParams(eye, torch.zeros(rows.shape[0], h, dtype=w.dtype))
    return ev.family.branch(params, states)


def plain_block(ev: Evaluator, rows: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The state after the one position ``rows`` ``(1, S)`` from the state ``x`` ``(n, d)`` entering it
    (differentiable, unlike the kernel's compiled blocks)."""
    return x + ev.family.branch(ev.stack.gather(rows), x[None])[0]


def mixed_output(
    ev: Evaluator,
    arr: torch.Tensor,
    write: int,
    positions: torch.Tensor,
    beta: torch.Tensor,
    start: int = 0,
    x: torch.Tensor | None = None,
) -> torch.Tensor:
    """Output ``(n, o)`` of ``arr`` where position ``positions[u]`` writes through the mixture
    ``Σ_j beta[u, j] · piece(pool[j])`` of the write pieces ``pool`` that ``positions`` hold;
    every other position keeps its piece. Differentiable in ``beta`` ``(U, U)``. ``x``: the state
    entering position ``start`` (no position before it mixed); default the inputs, at 0."""
    W, b = ev.stack.tensors[ev.stack.slots[write]]
    pool = arr[positions, write]
    W, b = W[pool], None if b is None else b[pool]
    mixed = dict(zip(positions.tolist(), range(len(positions))))
    x = ev.X if x is None else x
    for a in range(start, arr.shape[0]):
        u = mixed.get(a)
        if u is None:
            x = plain_block(ev, arr[a : a + 1], x)
            continue
        x = x + hidden(ev, arr[a : a + 1], x[None], write)[0] @ torch.einsum("j,jdh->hd", beta[u], W)
        if b is not None:
            x = x + beta[u] @ b
    return ev.output(x)


def relaxed_pairing(
    ev: Evaluator,
    arr: torch.Tensor,
    write: int,
    positions: torch.Tensor,
    iterations: int,
    stop: Callable[[], bool] = lambda: False,
) -> torch.Tensor:
    """The write pieces (pool rows) for ``positions``, among those the positions hold now, that the
    relaxed fit prefers (see the module docstring): mixture weights from the uniform start, fitted
    by at most ``iterations`` L-BFGS steps on the rows' mean squared error (fewer where ``stop()``
    says so, checked every few steps), rounded by the Hungarian algorithm. Every other position
    keeps its piece."""
    U = len(positions)
    first, x = int(positions.min()), ev.X
    for a in range(first):  # the positions before the first mixed one do not depend on the weights
        x = plain_block(ev, arr[a : a + 1], x)
    free = torch.zeros(U, U, dtype=ev.X.dtype, requires_grad=True)
    chunk = min(iterations, STEPS_BETWEEN_CHECKS)
    opt = torch.optim.LBFGS([free], lr=1, max_iter=chunk, history_size=20, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = (mixed_output(ev, arr, write, positions, free + 1.0 / U, first, x) - ev.target).pow(2).mean()
        loss.backward()
        ev.evaluations += 1
        return loss

    with torch.enable_grad():
        for _ in range(0, iterations, chunk):  # L-BFGS keeps its history from one call to the next
            opt.step(closure)
            if stop():
                break
    _, cols = linear_sum_assignment(free.detach().numpy(), maximize=True)
    return arr[positions, write][torch.as_tensor(cols)]


#: Fewest rows per unknown coefficient for the fit to be determined at all.
MIN_ROWS_PER_UNKNOWN = 2


class Relink(Configurable):
    """Regroup by data (see the module docstring): fit relaxed pairings, round, repair the order.

    Parameters
    ----------
    rounds
        Most fits (each followed by the order search); 0 turns the stage off.
    rows_per_unknown
        Rows of the fit per unknown coefficient (``U²`` unknowns for ``U`` blocks regrouped, one
        equation per row and output); capped by the puzzle's rows.
    patience
        Rounds without a new best loss after which the stage stops.
    iterations
        L-BFGS steps of each fit.
    """

    constraints = {
        "rounds": Interval(0, None),
        "rows_per_unknown": Interval(0.5, None),
        "patience": Interval(1, None),
        "iterations": Interval(1, None),
    }

    def __init__(
        self, rounds: int = 20, rows_per_unknown: float = 2.0, patience: int = 3, iterations: int = 50
    ) -> None:
        self.rounds = rounds
        self.rows_per_unknown = rows_per_unknown
        self.patience = patience
        self.iterations = iterations

    def rows_for(self, blocks: int, outputs: int) -> int:
        """Rows of the fit for regrouping ``blocks`` blocks with ``outputs`` outputs per row."""
        return max(256, int(np.ceil(self.rows_per_unknown * blocks * blocks / outputs)))

    def select(self, anchors: list[int], margin: np.ndarray, outputs: int, n_rows: int) -> list[int]:
        """The blocks (by anchor piece, pool rows) whose write pieces the fit may exchange:
        every block where the rows determine every coefficient (at least ``MIN_ROWS_PER_UNKNOWN``
        per unknown; ``rows_per_unknown`` where there are that many), else those the weights leave
        in doubt (margin not positive), least confident first, as many as the rows determine; none
        where fewer than two."""
        D = len(anchors)
        if MIN_ROWS_PER_UNKNOWN * D * D / outputs <= n_rows:
            return list(anchors)
        order = [k for k in np.argsort(margin, kind="stable").tolist() if margin[k] <= 0]
        U = min(len(order), int(np.sqrt(n_rows * outputs / MIN_ROWS_PER_UNKNOWN)))
        return [anchors[k] for k in order[:U]] if U >= 2 else []

    def run(
        self,
        ctx: Context,
        reg: Evaluator,
        ev: Evaluator,
        arr: torch.Tensor,
        loss: float,
        write: int,
        anchor: int,
        blocks: list[int],
        improve: Improve,
    ) -> tuple[torch.Tensor, float]:
        """Regroup ``arr`` (loss ``loss`` on ``ev``'s rows) by fits on ``reg``'s rows, among the
        ``blocks`` (anchor pool rows; ``anchor`` is their column); ``improve`` (``arr -> (arr, loss)``
        on ``ev``'s rows) repairs the order after each fit. Returns the best arrangement met and its loss."""
        t0, e0 = time.perf_counter(), ev.evaluations + reg.evaluations
        best, best_loss, floor = arr, loss, ctx.floor_of(ev)
        history, moved, stale = [loss], [], 0
        chosen = torch.as_tensor(blocks)
        for _ in range(self.rounds):
            positions = torch.nonzero(torch.isin(arr[:, anchor], chosen)).flatten()
            new = relaxed_pairing(reg, arr, write, positions, self.iterations, ctx.out_of_time)
            changed = int((new != arr[positions, write]).sum())
            moved.append(changed)
            if changed == 0:
                break
            trial = arr.clone()
            trial[positions, write] = new
            arr, loss = improve(trial)
            history.append(loss)
            if loss < best_loss:
                best, best_loss, stale = arr, loss, 0
            else:
                stale += 1
            if best_loss <= floor or stale >= self.patience or ctx.out_of_time():
                break
        ctx.stages.append(
            StageReport(
                "relink",
                f"{len(blocks)}-blocks@{reg.n_rows}rows",
                mse=best_loss,
                rounds=len(moved),
                evaluations=ev.evaluations + reg.evaluations - e0,
                seconds=time.perf_counter() - t0,
                details={"moved": moved, "history": history},
            )
        )
        return best, best_loss
