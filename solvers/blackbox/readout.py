"""The last hidden layer's orientations and the output layer, from the gradient jumps at its planes.

Past the last hidden layer the network is linear, so crossing unit ``i``'s plane ``w_i·c + b_i = 0``
along ``w_i`` steps the gradient by the same rank-one ``J_i = q_i w_i^T`` everywhere, whichever side
the unit is active on (``q_i``: its outgoing weights times its scale). Where it is active on the
side ``s_i`` (±1), the gradient at any point ``c`` is ``G(c) = sum_i [s_i z_i(c) > 0] s_i J_i`` with
``z_i = w_i·c + b_i``; with ``σ_i = sign z_i(c)``, ``[s_i σ_i > 0] = (1 + s_i σ_i) / 2``, so

    2 G(c) - sum_i σ_i J_i = sum_i s_i J_i,

linear in the signs: a least-squares solve over one gradient's ``o dim`` entries recovers every
``s_i`` as ±1 (the ``J_i`` are independent where the normals are). Unlike a fit on sampled rows this
needs no point on the rarely visited side of a plane: one gradient at any reachable point will do
(the idea of Carlini, Jagielski & Mironov 2020's and Canales-Martinez et al. 2024's sign recovery:
the side where a unit is off is the one where it leaves the gradient alone).
"""

from __future__ import annotations

import torch

from solvers.blackbox.lines import Reader
from solvers.blackbox.spaces import InputSpace, OrthantSpace

#: Gradient step as a share of the distance from the point to the nearest plane.
STEP = 1e-3


def signs_from_jumps(
    reader: Reader,
    space: InputSpace | OrthantSpace,
    planes: torch.Tensor,
    jumps: torch.Tensor,
    gen: torch.Generator,
    points: int = 2,
) -> tuple[torch.Tensor, float]:
    """Each plane's active side (±1) and the largest distance of a solved sign from ±1 (near 0 where clear).

    Parameters
    ----------
    reader
        Counted queries in ``space``.
    space
        Where the layer's planes live (points are sampled there).
    planes
        ``(h, dim + 1)``: normals and offsets, each with its ``jump``'s orientation.
    jumps
        ``(h, o, dim)``: the gradient's step crossing each plane along its normal.
    gen
        Random points.
    points
        Gradients taken (``dim + 1`` queries each); their equations are solved together.
    """
    W, b = planes[:, :-1], planes[:, -1]
    design = jumps.reshape(len(jumps), -1).T  # (o dim, h)
    rows, rhs = [], []
    for _ in range(points):
        c = space.sample(1, gen)[0]
        z = W @ c + b
        step = STEP * float((z.abs() / W.norm(dim=1)).min())
        G = reader.gradient(c, step)
        rows.append(design)
        rhs.append(2 * G.reshape(-1) - design @ torch.sign(z))
    s = torch.linalg.lstsq(torch.cat(rows), torch.cat(rhs)[:, None], driver="gelsd").solution.flatten()
    signs = torch.where(s >= 0, 1.0, -1.0).to(torch.float64)
    return signs, float((s - signs).abs().max()) if len(s) else 0.0


def outgoing(planes: torch.Tensor, jumps: torch.Tensor) -> torch.Tensor:
    """``(o, h)``: each unit's outgoing weights for its plane's scale, ``q_i = J_i w_i / |w_i|^2``."""
    W = planes[:, :-1]
    return (torch.einsum("hod,hd->oh", jumps, W) / W.pow(2).sum(1)[None, :]).contiguous()


def offset(
    params_out: tuple[torch.Tensor, torch.Tensor, torch.Tensor], X: torch.Tensor, Y: torch.Tensor
) -> torch.Tensor:
    """``(o,)``: the output bias that the oriented last layer ``(W, b, W_out)`` leaves on rows ``X``, ``Y``."""
    W, b, W_out = params_out
    return (Y - torch.relu(X @ W.T + b) @ W_out.T).mean(0)
