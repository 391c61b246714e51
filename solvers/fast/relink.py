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
block's pairing in doubt (:attr:`solvers.grouping.Grouping.margin`).
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


def linear_features(ev: Evaluator, arr: torch.Tensor, states: torch.Tensor, J: torch.Tensor,
                    write: int) -> torch.Tensor:
    """``Φ`` ``(n·o, D, P)``: the first-order output of write piece ``j`` (pool row) placed at position ``a``."""
    name = ev.stack.slots[write]
    W, b = ev.stack.tensors[name]  # (P, d, h), (P, d)
    H = hidden(ev, arr, states, write)  # (D, n, h)
    D, n = arr.shape[0], H.shape[1]
    o, d = J.shape[-2], J.shape[-1]
    phi = torch.empty(n * o, D, W.shape[0], dtype=H.dtype)
    flat_w = W.permute(2, 0, 1).reshape(W.shape[2], -1)  # (h, P·d)
    for a in range(D):
        Y = (H[a] @ flat_w).view(n, W.shape[0], d)  # W_j φ_a per row, every write piece j
        phi[:, a] = torch.einsum("npd,nod->nop", Y, J[a + 1]).reshape(n * o, -1)
        if b is not None:
            phi[:, a] += J[a + 1].reshape(n * o, d) @ b.T
    return phi


def regressed_pairing(ev: Evaluator, arr: torch.Tensor, write: int) -> np.ndarray:
    """The write piece (pool row) for each position that the linearised least-squares fit prefers."""
    states = ev.states(arr)
    J = ev.jacobians(arr, states)
    phi = linear_features(ev, arr, states, J, write)
    D = arr.shape[0]
    current = phi[:, torch.arange(D), arr[:, write]].sum(1)
    target = (ev.target - ev.output(states[-1])).reshape(-1) + current
    A = phi.flatten(1)
    gram = (A.T @ A).double()  # normal equations: a Gram matrix product is several times cheaper than QR
    gram.diagonal().add_(RIDGE * float(gram.diagonal().mean()) + 1e-300)
    beta = torch.linalg.solve(gram, (A.T @ target).double())
    _, cols = linear_sum_assignment(beta.view(D, -1).numpy(), maximize=True)
    return cols


class Relink(Configurable):
    """Regroup by data (see the module docstring): regress, round to a pairing, repair the order.

    Parameters
    ----------
    rounds
        Most regressions (each followed by a descent); 0 turns the stage off.
    rows_per_unknown
        Rows of the regression per unknown coefficient (``D²`` unknowns, one equation per row and
        output); capped by the puzzle's rows.
    patience
        Rounds without a new best loss after which the stage stops.
    """

    constraints = {"rounds": Interval(0, None), "rows_per_unknown": Interval(0.5, None), "patience": Interval(1, None)}

    def __init__(self, rounds: int = 20, rows_per_unknown: float = 8.0, patience: int = 3) -> None:
        self.rounds = rounds
        self.rows_per_unknown = rows_per_unknown
        self.patience = patience

    def rows_for(self, depth: int, outputs: int) -> int:
        """Regression rows for ``depth`` blocks and ``outputs`` outputs per row."""
        return max(256, int(np.ceil(self.rows_per_unknown * depth * depth / outputs)))

    def run(self, ctx: Context, reg: Evaluator, ev: Evaluator, arr: torch.Tensor, loss: float,
            write: int) -> tuple[torch.Tensor, float]:
        """Regroup ``arr`` (loss ``loss`` on ``ev``'s rows) by regressions on ``reg``'s rows; the
        descents run on ``ev``. Returns the best arrangement met and its loss."""
        t0, e0 = time.perf_counter(), ev.evaluations + reg.evaluations
        best, best_loss, floor = arr, loss, ctx.floor_of(ev)
        history, moved, stale = [loss], [], 0
        for _ in range(self.rounds):
            cols = torch.as_tensor(regressed_pairing(reg, arr, write))
            changed = int((cols != arr[:, write]).sum())
            moved.append(changed)
            if changed == 0:
                break
            trial = arr.clone()
            trial[:, write] = cols
            arr, loss = ctx.descend(ev, trial)[:2]
            history.append(loss)
            if loss < best_loss:
                best, best_loss, stale = arr, loss, 0
            else:
                stale += 1
            if best_loss <= floor or stale >= self.patience or ctx.out_of_time():
                break
        ctx.stages.append(StageReport(
            "relink", f"regression@{reg.n_rows}rows", mse=best_loss, rounds=len(moved),
            evaluations=ev.evaluations + reg.evaluations - e0, seconds=time.perf_counter() - t0,
            details={"moved": moved, "history": history}))
        return best, best_loss
