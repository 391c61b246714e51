"""Unit-to-unit similarity between a reference layer and its permuted copy, and the matching.

Similarities are ``(units, units)`` matrices: entry ``[i, j]`` compares the reference's unit ``i``
with the copy's unit ``j``. A matching returns ``perm`` with ``perm[i]`` the copy's unit for the
reference's unit ``i``.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from reassembly.resync.units import State, UnitGroup, unit_rows

EPS = 1e-300


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of every row of ``a`` with every row of ``b`` (zero rows give 0)."""
    an = a / a.norm(dim=1, keepdim=True).clamp_min(EPS)
    bn = b / b.norm(dim=1, keepdim=True).clamp_min(EPS)
    return an @ bn.T


def member_views(
    ref: State, copy: State, group: UnitGroup, sides: tuple[str, ...] = ("in", "out"), merge_bias: bool = True
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Per view (a member, or a weight with its bias where ``merge_bias``), the reference's and the
    copy's unit rows in float64."""
    views: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    for m in group.members:
        if m.side not in sides:
            continue
        a, b = unit_rows(ref, m, group.units).double(), unit_rows(copy, m, group.units).double()
        key = m.tensor.rsplit(".", 1)[0] if merge_bias else m.tensor
        if key in views:
            views[key] = (torch.cat([views[key][0], a], 1), torch.cat([views[key][1], b], 1))
        else:
            views[key] = (a, b)
    return views


def standardise(s: torch.Tensor) -> torch.Tensor:
    """``s`` on a common scale: minus its median, over 1.4826 × its median absolute deviation
    (robust to the few true matches among the ``units²`` entries)."""
    med = s.median()
    mad = (s - med).abs().median().clamp_min(1e-12)
    return (s - med) / (1.4826 * mad)


def restrict(score: torch.Tensor, allowed: torch.Tensor | None) -> torch.Tensor:
    """``score`` with the pairs not ``allowed`` below every allowed one (``None``: all allowed)."""
    if allowed is None:
        return score
    low, high = score[allowed].min(), score[allowed].max()
    return torch.where(allowed, score, low - (high - low + 1) * score.shape[0])


def match(score: torch.Tensor, rule: str = "hungarian", allowed: torch.Tensor | None = None) -> torch.Tensor:
    """The permutation that maximises the total ``score`` (``hungarian``), or the paper's rule
    (``argmax``: each reference unit takes its most similar copy unit, in order of similarity,
    among those still free); only ``allowed`` pairs where given (a block structure both rules can
    always keep to: grouped heads)."""
    s = restrict(score, allowed).detach().cpu().numpy()
    if rule == "hungarian":
        rows, cols = linear_sum_assignment(s, maximize=True)
        perm = np.empty(len(rows), dtype=np.int64)
        perm[rows] = cols
        return torch.from_numpy(perm)
    n = s.shape[0]
    perm = np.full(n, -1, dtype=np.int64)
    taken = np.zeros(s.shape[1], dtype=bool)
    for flat in np.argsort(-s, axis=None, kind="stable"):
        i, j = divmod(int(flat), s.shape[1])
        if perm[i] < 0 and not taken[j]:
            perm[i], taken[j] = j, True
    return torch.from_numpy(perm)


def margins(score: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """Per reference unit, its matched score minus the best other score in its row or its
    column: how clearly the matching is preferred (negative: a unit prefers another)."""
    n = len(perm)
    chosen = score[torch.arange(n), perm]
    others = score.clone()
    others[torch.arange(n), perm] = -torch.inf
    best_row = others.max(dim=1).values
    best_col = others.max(dim=0).values[perm]
    return chosen - torch.maximum(best_row, best_col)
