"""Norm gains placed all at once by a softassign fit that the weights start.

Why: an exchange search places the norm gains one exchange at a time, judged by the exact loss,
and that loss saturates through depth unless nearly every gain is nearly right (held-out SmolLM2:
from every component in place, the search places a third of 48 gains in 400 s at 24 layers).
A fit places them all at once. The gains enter their layers linearly (``rmsnorm(x) * g``), so a
network whose every norm slot holds a mixture of the pool's gains is an ordinary, differentiable
network; softassign (Gold and Rangarajan, 1996) keeps the mixture a doubly stochastic matrix
``P = sinkhorn(exp(logits / tau))`` (each slot a convex mixture, each gain used once in all) and
anneals ``tau``, so that it has to become a permutation as it fits. From the uniform mixture
every slot is the same and the fit sits on a plateau (measured in docs/real-networks-studies.md).
The weights break that symmetry: a norm gain and the pieces of its own sublayer grow on the same
residual dimensions (V, O, gate, up and down; gradient flow conserves ``g_j² − Σ‖W_{:,j}‖²``
for a norm and the pieces that read it, and the writer meets the same dimensions), so the logits
start at the correlation of each gain's log magnitudes with the log column (read) or row (write)
norms of the pieces at each position, z-scored. Alone that link ranks the true layer only 3rd to
7th of 18 to 30; as the fit's start it places most gains at 24 layers. Q and K are left out of
the link: they meet only in the attention scores, rotated, and their correlation with the gain
changes sign with depth.

The fit is rounded to a placement by the Hungarian algorithm every few steps, and the rounding with
the lowest exact loss is the stage's result (the solver keeps it only where it is lower than the
arrangement it was given).
"""

from __future__ import annotations

import torch
from scipy.optimize import linear_sum_assignment

from reassembly.kernel import Evaluator
from reassembly.params import Interval, OneOf
from solvers.transformer.moves import Groups
from solvers.transformer.relink import GainsFit, relaxed_output

LINKED = ("v", "o", "gate", "up", "down")
"""The slots whose weights link a norm gain to its sublayer (those after the norm, before the next)."""


def _log_profile(x: torch.Tensor) -> torch.Tensor:
    """Log magnitudes less their mean over the items (rows), each row then of unit norm."""
    v = x.double().abs().clamp_min(1e-12).log()
    v = v - v.mean(0)
    return torch.nn.functional.normalize(v, dim=1)


def link_scores(ev: Evaluator, arr: torch.Tensor, groups: Groups, linked: tuple[str, ...] = LINKED) -> torch.Tensor:
    """``(S * D, G)``: for each norm slot ``s`` (of ``groups.singles[0]``) and position ``p`` (row
    ``s * D + p``), how well each gain of the pool fits the pieces ``arr`` puts in ``s``'s sublayer
    at ``p``: the summed correlation of the gain's log magnitudes with the log norms of those pieces
    along the residual dimensions (a reader's columns, a writer's rows), z-scored per row.

    Parameters
    ----------
    ev
        The evaluator whose stack ``arr`` indexes.
    arr
        The arrangement (its components are read; its gains are not).
    groups
        Its column groups.
    linked
        The slots that count (where the family has them).
    """
    stack, norm_cols = ev.stack, list(groups.singles[0])
    slots, D = stack.slots, arr.shape[0]
    roles = {spec.name: spec.role for spec in ev.family.slots}
    pool = _log_profile(stack.tensors[slots[norm_cols[0]]].weight)
    rows = []
    for c in norm_cols:
        nxt = min([n for n in norm_cols if n > c], default=len(slots))
        score = torch.zeros(D, pool.shape[0], dtype=torch.float64)
        for s in range(c + 1, nxt):
            w = stack.tensors[slots[s]].weight
            if slots[s] not in linked or w.ndim != 3 or pool.shape[1] not in w.shape[1:]:
                continue
            w = w[arr[:, s]].double()
            # the residual side is told by the slot's role: a reader's columns, a writer's rows
            # (shape alone cannot tell a square writer, O)
            norms = w.pow(2).sum(1 if roles[slots[s]] == "read" else 2).sqrt()
            score += _log_profile(norms) @ pool.T
        rows.append((score - score.mean(1, keepdim=True)) / score.std(1, keepdim=True).clamp_min(1e-12))
    return torch.cat(rows)


def sinkhorn(log_p: torch.Tensor, iterations: int = 30) -> torch.Tensor:
    """``exp(log_p)`` scaled to a doubly stochastic matrix (alternate row and column normalisation
    in log space).

    Parameters
    ----------
    log_p
        Square matrix of log weights.
    iterations
        Row-and-column normalisations.
    """
    for _ in range(iterations):
        log_p = log_p - log_p.logsumexp(1, keepdim=True)
        log_p = log_p - log_p.logsumexp(0, keepdim=True)
    return log_p.exp()


class SoftAssign(GainsFit):
    """Norm gains placed by a softassign fit started from the weights' links (see the module
    docstring), where the family has a relaxed layer and one pool holds every norm slot's gains.

    Parameters
    ----------
    steps
        Adam steps of the fit; 0 turns the stage off. ``tau`` falls geometrically from 1 to
        ``tau`` over them.
    lr
        Adam's step size on the logits.
    tau
        The last temperature.
    every
        Steps between two roundings (each costs one exact evaluation).
    warm
        The weight of the arrangement's own placement in the first logits (added to the links):
        0 starts from the links alone; above 0 the fit refines the placement it is given.
    at
        Where the solver runs it: ``"race"``: on each arrangement of the ``units`` race before
        its first search; ``"after"``: once, on the arrangement the stages before the search
        leave; ``"both"``.
    """

    constraints = {
        "steps": Interval(0, None),
        "lr": Interval(0, None, closed=False),
        "tau": Interval(0, 1, closed=False),
        "every": Interval(1, None),
        "warm": Interval(0, None),
        "at": OneOf(("race", "after", "both")),
    }

    def __init__(
        self,
        steps: int = 200,
        lr: float = 0.1,
        tau: float = 0.02,
        every: int = 10,
        warm: float = 0.0,
        at: str = "after",
    ) -> None:
        self.steps = steps
        self.lr = lr
        self.tau = tau
        self.every = every
        self.warm = warm
        self.at = at

    def run(
        self, ev: Evaluator, arr: torch.Tensor, groups: Groups, deadline: float, warm: float | None = None
    ) -> tuple[torch.Tensor, dict]:
        """``arr`` with its norm gains at the fit's best rounding (by the exact loss), and what the
        stage did.

        Parameters
        ----------
        ev
            Evaluates on the search's rows.
        arr
            The arrangement whose components are held.
        groups
            Its column groups.
        deadline
            The fit stops at this ``ev.clock()``.
        warm
            The weight of ``arr``'s own placement in the first logits (``None``: the stage's).
        """
        cols, D = list(groups.singles[0]), arr.shape[0]
        n = len(cols) * D
        if ev.stack.tensors[ev.stack.slots[cols[0]]].weight.shape[0] != n:  # not one square assignment
            return arr, {"steps": 0, "roundings": []}
        own = torch.nn.functional.one_hot(torch.cat([arr[:, c] for c in cols]), n).double()
        first = link_scores(ev, arr, groups) + (self.warm if warm is None else warm) * own
        logits = first.to(ev.X.dtype).requires_grad_(True)
        opt = torch.optim.Adam([logits], lr=self.lr)
        best, best_loss, history, done = arr, float("inf"), [], 0
        with torch.enable_grad():
            for step in range(self.steps):
                if ev.clock() > deadline:
                    break
                done += 1
                tau = self.tau ** (step / max(1, self.steps - 1))
                p = sinkhorn(logits / tau)
                if step % self.every == 0 or step == self.steps - 1:
                    _, perm = linear_sum_assignment(p.detach().numpy(), maximize=True)
                    trial = arr.clone()
                    for i, c in enumerate(cols):
                        trial[:, c] = torch.as_tensor(perm[i * D : (i + 1) * D])
                    loss = float(ev.run(trial[None])[0])
                    history.append(loss)
                    if loss < best_loss:
                        best, best_loss = trial, loss
                free = [p[i * D : (i + 1) * D] - 1.0 / n for i in range(len(cols))]
                fit = (relaxed_output(ev, arr, groups, [], free) - ev.target).pow(2).mean()
                opt.zero_grad()
                fit.backward()
                opt.step()
                ev.evaluations += 1
        return best, {"steps": done, "roundings": history}
