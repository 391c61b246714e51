"""Grouping from data: which write piece belongs to which read pieces, decided by the output.

Where weight statistics do not pair the pieces (PyTorch's default initialisation leaves every
output projection close to its random start), the data must. Every write piece enters its block
linearly: ``branch = W_write φ(reads, x) + b_write``. Around the current arrangement the output is,
to first order in what the branches change, ``y ≈ y_0 + Σ_a J_a (W_{π(a)} φ_a + b_{π(a)} − branch_a)``
with ``φ_a`` the hidden activations at position ``a``, ``J_a`` the output Jacobian of the state
after it and ``π(a)`` the write piece placed there. Relaxing the permutation ``π`` to coefficients
``β[a, j]`` makes this an ordinary least-squares problem on the rows,
``target − y_0 + Σ_a J_a branch_a ≈ Σ_{a,j} β[a, j] J_a (W_j φ_a + b_j)``, whose solution the
Hungarian algorithm rounds back to a pairing. The order is then repaired by the descent, the
states and Jacobians are taken anew, and the regression repeats until the pairing stops changing.

Why it should carry over to nets we have not seen: it uses only what defines the puzzle (the
pieces, the rows and the known head), no statistics of a training recipe; the true pairing makes
the relation exact at the true order, and each round only needs the linearisation to rank the
true partner first, not to be accurate. Its cost is one regression with ``D²`` unknowns per round
(about ``rows_per_unknown · D² / o`` rows), so it runs only where the weight scores leave some
block's pairing in doubt (:attr:`solvers.grouping.Grouping.margin`), and where the rows cannot
determine ``D²`` coefficients only among the blocks in doubt.
"""
from __future__ import annotations

import time

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from reassembly.families.base import SlotParams
from reassembly.kernel import Evaluator
from reassembly.params import Configurable, Interval
from reassembly.solver import StageReport
from solvers.fast.context import Context


#: Ridge on the normal equations, relative to their mean diagonal (only the ranking of the
#: coefficients matters: the Hungarian algorithm rounds them).
RIDGE = 1e-8


def hidden(ev: Evaluator, arr: torch.Tensor, states: torch.Tensor, write: int) -> torch.Tensor:
    """Hidden activations ``(D, n, h)`` entering each position's write piece: the branch with the
    write piece replaced by the identity (a write piece enters its branch linearly, last)."""
    params = dict(ev.stack.gather(arr))
    name = ev.stack.slots[write]
    w = params[name].weight
    h = w.shape[-1]
    eye = torch.eye(h, dtype=w.dtype).expand(arr.shape[0], h, h)
    params[name] = SlotParams(eye, torch.zeros(arr.shape[0], h, dtype=w.dtype))
    return ev.family.branch(params, states[:-1])


def linear_features(ev: Evaluator, arr: torch.Tensor, states: torch.Tensor, J: torch.Tensor, write: int,
                    positions: torch.Tensor, pool: torch.Tensor) -> torch.Tensor:
    """``Φ`` ``(n·o, U, P)``: the first-order output of write piece ``pool[j]`` (pool rows) placed at
    position ``positions[u]``."""
    name = ev.stack.slots[write]
    W, b = ev.stack.tensors[name]
    W, b = W[pool], None if b is None else b[pool]  # (P, d, h), (P, d)
    H = hidden(ev, arr, states, write)  # (D, n, h)
    n, (o, d) = H.shape[1], J.shape[-2:]
    phi = torch.empty(n * o, len(positions), W.shape[0], dtype=H.dtype)
    flat_w = W.permute(2, 0, 1).reshape(W.shape[2], -1)  # (h, P·d)
    for u, a in enumerate(positions.tolist()):
        Y = (H[a] @ flat_w).view(n, W.shape[0], d)  # W_j φ_a per row, every candidate write piece j
        phi[:, u] = torch.einsum("npd,nod->nop", Y, J[a + 1]).reshape(n * o, -1)
        if b is not None:
            phi[:, u] += J[a + 1].reshape(n * o, d) @ b.T
    return phi


def regressed_pairing(ev: Evaluator, arr: torch.Tensor, write: int, positions: torch.Tensor) -> torch.Tensor:
    """The write pieces (pool rows) for ``positions`` that the linearised least-squares fit prefers,
    among those the positions hold now (every other position keeps its piece)."""
    states = ev.states(arr)
    J = ev.jacobians(arr, states)
    pool = arr[positions, write]
    phi = linear_features(ev, arr, states, J, write, positions, pool)
    U = len(positions)
    current = phi[:, torch.arange(U), torch.arange(U)].sum(1)
    target = (ev.target - ev.output(states[-1])).reshape(-1) + current
    A = phi.flatten(1)
    gram = (A.T @ A).double()  # normal equations: a Gram matrix product is several times cheaper than QR
    gram.diagonal().add_(RIDGE * float(gram.diagonal().mean()) + 1e-300)
    beta = torch.linalg.solve(gram, (A.T @ target).double())
    _, cols = linear_sum_assignment(beta.view(U, U).numpy(), maximize=True)
    return pool[torch.as_tensor(cols)]


#: Fewest regression rows per unknown coefficient for the fit to be determined at all.
MIN_ROWS_PER_UNKNOWN = 2


class Relink(Configurable):
    """Regroup by data (see the module docstring): regress, round to a pairing, repair the order.

    Parameters
    ----------
    rounds
        Most regressions (each followed by a descent); 0 turns the stage off.
    rows_per_unknown
        Rows of the regression per unknown coefficient (``U²`` unknowns for ``U`` blocks regrouped,
        one equation per row and output); capped by the puzzle's rows.
    patience
        Rounds without a new best loss after which the stage stops.
    """

    constraints = {"rounds": Interval(0, None), "rows_per_unknown": Interval(0.5, None), "patience": Interval(1, None)}

    def __init__(self, rounds: int = 20, rows_per_unknown: float = 8.0, patience: int = 3) -> None:
        self.rounds = rounds
        self.rows_per_unknown = rows_per_unknown
        self.patience = patience

    def rows_for(self, blocks: int, outputs: int) -> int:
        """Regression rows for regrouping ``blocks`` blocks with ``outputs`` outputs per row."""
        return max(256, int(np.ceil(self.rows_per_unknown * blocks * blocks / outputs)))

    def select(self, anchors: list[int], margin: np.ndarray, outputs: int, n_rows: int) -> list[int]:
        """The blocks (by anchor piece, pool rows) whose write pieces the regression may exchange:
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

    def run(self, ctx: Context, reg: Evaluator, ev: Evaluator, arr: torch.Tensor, loss: float, write: int,
            anchor: int, blocks: list[int]) -> tuple[torch.Tensor, float]:
        """Regroup ``arr`` (loss ``loss`` on ``ev``'s rows) by regressions on ``reg``'s rows, among the
        ``blocks`` (anchor pool rows; ``anchor`` is their column); the descents run on ``ev``.
        Returns the best arrangement met and its loss."""
        t0, e0 = time.perf_counter(), ev.evaluations + reg.evaluations
        best, best_loss, floor = arr, loss, ctx.floor_of(ev)
        history, moved, stale = [loss], [], 0
        chosen = torch.as_tensor(blocks)
        for _ in range(self.rounds):
            positions = torch.nonzero(torch.isin(arr[:, anchor], chosen)).flatten()
            new = regressed_pairing(reg, arr, write, positions)
            changed = int((new != arr[positions, write]).sum())
            moved.append(changed)
            if changed == 0:
                break
            trial = arr.clone()
            trial[positions, write] = new
            arr, loss = ctx.descend(ev, trial)[:2]
            history.append(loss)
            if loss < best_loss:
                best, best_loss, stale = arr, loss, 0
            else:
                stale += 1
            if best_loss <= floor or stale >= self.patience or ctx.out_of_time():
                break
        ctx.stages.append(StageReport(
            "relink", f"{len(blocks)}-blocks@{reg.n_rows}rows", mse=best_loss, rounds=len(moved),
            evaluations=ev.evaluations + reg.evaluations - e0, seconds=time.perf_counter() - t0,
            details={"moved": moved, "history": history}))
        return best, best_loss
