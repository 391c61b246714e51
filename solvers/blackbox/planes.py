"""One layer's hyperplanes from the kinks of random lines: each candidate read off the gradient
jump at one kink, kept only where it predicts kinks on other lines.

Between two neighbouring kinks of a line the network is linear, so one gradient per linear region
(forward differences, ``dim + 1`` queries) serves the kinks on both its sides. Across a kink of a
unit of the first layer left the gradient jumps by ``a w^T`` (``w`` the unit's incoming weights):
a rank-one step whose right singular vector is the hyperplane's normal, and the kink puts the
hyperplane through a known point. Such a plane is flat everywhere, so it also passes through one
kink of every other line; a kink of a deeper unit (its surface bends at the first layer's planes)
or a misread one predicts none, and a plane is accepted once ``confirm`` other lines agree
(Carlini, Jagielski & Mironov 2020 test critical points for a common hyperplane the same way).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from solvers.blackbox.lines import Reader

#: Gradient step as a share of the half-width of a linear region (keeps every step inside it
#: unless a plane is within a thousandth of parallel to the line).
GRAD_STEP = 1e-3
#: Largest second singular value of a jump, relative to the first, that still counts as rank one.
RANK_ONE = 1e-5
#: A kink lies on a plane where ``|w·x + b| <= MATCH (|w||x| + |b|)``.
MATCH = 1e-9
#: Two candidate planes are one where their unit vectors agree this closely.
SAME = 1e-9


@dataclass
class Candidate:
    plane: torch.Tensor  # (dim + 1,): unit normal and offset scaled to length 1 together
    lines: set[int] = field(default_factory=set)  # lines on which a kink lies on it


def residual(plane: torch.Tensor, x: torch.Tensor) -> float:
    """How far ``x`` is off ``plane``, relative to the rounding of ``w·x + b``."""
    w, b = plane[:-1], float(plane[-1])
    return abs(float(w @ x) + b) / (float(w.norm() * x.norm()) + abs(b) + 1e-300)


def jump_plane(jump: torch.Tensor, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor | None:
    """The plane through ``x`` whose normal is the rank-one ``jump`` ``(o, dim)``'s right singular
    vector (``None`` where the jump is not rank one), oriented so that the normal meets ``v`` positively."""
    if jump.shape[0] == 1:
        w = jump[0]
    else:
        S, Vh = torch.linalg.svd(jump, full_matrices=False)[1:]
        if float(S[0]) == 0 or (len(S) > 1 and float(S[1]) > RANK_ONE * float(S[0])):
            return None
        w = Vh[0]
    if float(w.norm()) == 0:
        return None
    w = w if float(w @ v) > 0 else -w
    plane = torch.cat([w, -(w @ x)[None]])
    return plane / plane.norm()


class PlaneFinder:
    """Candidates of one layer's hyperplanes in a space of points of dimension ``reader.dim``.

    Parameters
    ----------
    reader
        Counted queries in the space.
    confirm
        Other lines that must cross a candidate at a kink before it is accepted.
    """

    def __init__(self, reader: Reader, confirm: int) -> None:
        self.reader, self.confirm = reader, confirm
        self.candidates: list[Candidate] = []
        self.lines = 0
        self.gradients = 0

    def accepted(self) -> list[Candidate]:
        """Candidates confirmed by ``confirm`` lines besides their own, most confirmed first."""
        good = [c for c in self.candidates if len(c.lines) > self.confirm]
        return sorted(good, key=lambda c: -len(c.lines))

    def add_line(self, x0: torch.Tensor, v: torch.Tensor, a: float, b: float, new: bool) -> None:
        """Read the kinks of ``x0 + t v`` (``a < t < b``), credit the candidates they lie on, and
        (``new``) make candidates of the kinks none explains."""
        line = self.lines
        self.lines += 1
        ts = self.reader.kinks(x0, v, a, b)
        points = [x0 + t * v for t in ts]
        unexplained = []
        for k, x in enumerate(points):
            best = min(((residual(c.plane, x), c) for c in self.candidates), key=lambda rc: rc[0], default=None)
            if best is not None and best[0] <= MATCH:
                best[1].lines.add(line)
            else:
                unexplained.append(k)
        if not new or not unexplained:
            return
        bounds = [a, *ts, b]
        regions = sorted({k for k in unexplained} | {k + 1 for k in unexplained})
        grads = {}
        for r in regions:  # region r lies between bounds[r] and bounds[r + 1]
            half = (bounds[r + 1] - bounds[r]) / 2
            grads[r] = self.reader.gradient(x0 + (bounds[r] + half) * v, GRAD_STEP * half)
            self.gradients += 1
        for k in unexplained:
            plane = jump_plane(grads[k + 1] - grads[k], points[k], v)
            if plane is not None:
                self.add_candidate(plane, line)

    def add_candidate(self, plane: torch.Tensor, line: int) -> None:
        for c in self.candidates:
            if abs(float(c.plane @ plane)) >= 1 - SAME:
                c.lines.add(line)
                return
        self.candidates.append(Candidate(plane, {line}))
