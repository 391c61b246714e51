"""A whitened loss: the same global optimum as the MSE, without its deceptive local optima.

On a deep net with one output, the output changes of the local moves (one block moved a few
places) are nearly collinear as functions of the rows: at depth 128, one direction in row space
holds about 84 % of their variance. Errors left by different misplacements then cancel along it,
so the MSE has many local optima where misplacements compensate each other: from the true order
with 10 random short insertions, a descent on the MSE ends elsewhere every time (measured on
depth 128; `docs/performance.md`). Measuring the error in the metric that whitens the moves'
output changes, ``mean((L e)²)`` with ``L = (C + λI)^(-1/2)`` and ``C`` their row covariance
(normalised to unit mean eigenvalue), weights every move direction alike: the true order still
has zero loss, but compensations no longer pay, and the same descents return to it.
"""
from __future__ import annotations

import torch

from reassembly.network import Evaluator
from solvers.stages.insertion import insertion_effect
from solvers.stages.states import Config, forward_states, output_jacobians


def insertion_effects(ev: Evaluator, cfg: Config, window: int) -> torch.Tensor:
    """First-order output changes ``(K, n * o)`` of every insertion that moves one block at most
    ``window`` places (:func:`solvers.stages.insertion.insertion_effect`), in order of the block
    moved, then of its new place."""
    D = len(cfg.ins)
    states = forward_states(ev, cfg)
    J = output_jacobians(ev, cfg, states)
    effects = []
    for k in range(D):
        ts = torch.tensor([t for t in range(max(0, k - window), min(D, k + 1 + window) + 1) if t not in (k, k + 1)])
        effects.append(insertion_effect(ev, cfg, states, J, k, ts).flatten(1))
    return torch.cat(effects)


def whitening_metric(ev: Evaluator, cfg: Config, window: int, lam: float) -> torch.Tensor:
    """``(n, n)`` metric ``(C + λI)^(-1/2)``: ``C`` is the row covariance of the insertion effects
    of ``cfg`` (one output assumed per row; with several, their rows are pooled), scaled to unit mean
    eigenvalue; ``lam`` bounds how much a rarely moved direction can weigh."""
    n, o = ev.target.shape
    V = insertion_effects(ev, cfg, window).double().view(-1, n, o).transpose(1, 2).reshape(-1, n)
    C = V.T @ V
    C = C / (C.trace() / n)
    evals, evecs = torch.linalg.eigh(C)
    return (evecs * (evals.clamp(min=0) + lam).rsqrt()) @ evecs.T
