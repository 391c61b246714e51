"""The integrity check of "Find the Lady": a unit scaled by ``k`` keeps cosine 1 with itself but
changes its norm.

After matching, each unit's scale relative to the reference is measured per tensor (a weight
with its bias) on the entries the copy keeps: ``s = (w·c) / (w·w)`` (exactly 1 after pruning,
near 1 after noise, quantisation or fine-tuning, ``k`` after an attack). Under additive noise
``s - 1`` spreads as ``σ / |w|``, so ``(s - median s) |w|`` has one spread for every unit of a
layer; its robust z-score (median absolute deviation) beyond a Bonferroni bound for ``alpha``
flags the unit. The bound is the perturbation's expected range, measured on the other units.
"""

from __future__ import annotations

import torch
from scipy.stats import norm as gaussian

from reassembly.resync.units import State, UnitGroup
from solvers.resync.similarity import member_views


def scale_deviations(ref: State, copy: State, group: UnitGroup, perm: torch.Tensor) -> torch.Tensor:
    """``(views, units)``: each matched unit's relative scale, minus the layer's median, times the
    reference unit's norm on the copy's support (0 where the copy keeps nothing)."""
    rows = []
    for a, b in member_views(ref, copy, group).values():
        c = b[perm]
        w = a * (c != 0)
        ww = (w * w).sum(1)
        s = torch.where(ww > 0, (w * c).sum(1) / ww.clamp_min(1e-300), torch.ones_like(ww))
        rows.append((s - s[ww > 0].median() if bool((ww > 0).any()) else s - 1) * ww.sqrt())
    return torch.stack(rows)


def robust_z(x: torch.Tensor) -> torch.Tensor:
    """Per row, ``(x - median) / (1.4826 MAD)``."""
    med = x.median(dim=1, keepdim=True).values
    mad = (x - med).abs().median(dim=1, keepdim=True).values.clamp_min(1e-12)
    return (x - med) / (1.4826 * mad)


def flag_rescaled(
    ref: State, copy: State, groups: tuple[UnitGroup, ...], perms: list[torch.Tensor], alpha: float = 0.01
) -> tuple[list[tuple[int, int]], float]:
    """Units ``(layer, unit)`` of the reference whose scale is out of its layer's range, and the
    largest statistic seen (the bound is ``Φ⁻¹(1 - alpha / 2n)`` for ``n`` tests)."""
    z = [robust_z(scale_deviations(ref, copy, g, p)).abs() for g, p in zip(groups, perms)]
    bound = float(gaussian.ppf(1 - alpha / (2 * sum(x.numel() for x in z))))
    flags = [(k, int(u)) for k, x in enumerate(z) for u in torch.nonzero(x.max(dim=0).values > bound).flatten()]
    return flags, max(float(x.max()) for x in z)
