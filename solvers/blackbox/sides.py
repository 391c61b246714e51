"""A hidden layer's orientations where not every activation vector can be reached (deeper layers,
read on the orthant of the layer below): at the kink that found each plane, the side on which the
unit shows in the gradient.

With the layer's planes ``N`` (rows ``n_k``, up to sign and scale) known, the gradient at any point
is ``G(c) = M(c) N`` with column ``k`` of ``M(c)`` zero wherever unit ``k`` is off (the rest of the
network's Jacobian times the unit's activity, sign and scale); ``M = G N^+`` where ``N`` has full row
rank. Just either side of the kink that found plane ``i`` the rest of the network is in one state
(the steps are far smaller than the distance to any other plane) and unit ``i`` kinks there, so it
is not masked: column ``i`` is non-zero on exactly one side, its active side. Only points on the
finding chord are used, and those are reachable (Canales-Martinez et al. 2024 orient units from
where they switch on in the same spirit).
"""

from __future__ import annotations

import torch

from solvers.blackbox.lines import Reader
from solvers.blackbox.planes import Chord

#: Step off the plane, as a share of the distance to the nearest other plane (or the space's edge).
SIDE = 1e-3
#: Gradient step as a share of the step off the plane.
STEP = 1e-3


def signs_from_sides(
    reader: Reader, chord: Chord, planes: torch.Tensor, points: torch.Tensor
) -> tuple[torch.Tensor, float]:
    """Each plane's active side (±1) and the largest ratio of a unit's weaker side to its stronger (near 0 where clear).

    Parameters
    ----------
    reader
        Counted queries in the layer's space.
    chord
        ``(x, u) -> (lo, hi)``: how far the space lets a line ``x + t u`` run.
    planes
        ``(h, dim + 1)``: the layer's normals and offsets (``h <= dim``, normals independent).
    points
        ``(h, dim)``: a kink on each plane (where it was found).
    """
    W, b = planes[:, :-1], planes[:, -1]
    pinv = torch.linalg.pinv(W)  # (dim, h)
    norms = W.norm(dim=1)
    strength = torch.zeros(len(W), 2, dtype=torch.float64)
    for i in range(len(W)):
        p, n = points[i], W[i] / norms[i]
        dist = (W @ p + b).abs() / norms
        dist[i] = float("inf")
        lo, hi = chord(p, n)
        delta = SIDE * min(float(dist.min()), -lo, hi)
        for k, side in enumerate((1.0, -1.0)):
            G = reader.gradient(p + side * delta * n, STEP * delta)
            strength[i, k] = (G @ pinv[:, i]).norm()
    signs = torch.where(strength[:, 0] >= strength[:, 1], 1.0, -1.0).to(torch.float64)
    ratio = float((strength.min(1).values / strength.max(1).values.clamp_min(1e-300)).max()) if len(W) else 0.0
    return signs, ratio
