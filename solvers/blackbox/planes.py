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

Other lines can agree with a piece of a deeper unit's surface too: where they cross it inside the
same linear region of the layer below (common in small networks, whose regions are large). So an
agreed plane must also pass the far-point test: it must kink the function at points of the plane
far from the kink that found it (the ends of chords through that kink, within the plane), where
the layer below is in other states and a deeper unit's surface has bent away. ``FAR_HITS`` of
``2 FAR_CHORDS`` ends must kink (not all: a unit's kink vanishes where every unit it feeds is off).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from solvers.blackbox.lines import Reader

Chord = Callable[[torch.Tensor, torch.Tensor], tuple[float, float]]

#: Gradient step as a share of the half-width of a linear region (keeps every step inside it
#: unless a plane is within a thousandth of parallel to the line).
GRAD_STEP = 1e-3
#: Largest second singular value of a jump, relative to the first, that still counts as rank one.
RANK_ONE = 1e-5
#: A kink lies on a plane where ``|w·x + b| <= MATCH (|w||x| + |b|)``.
MATCH = 1e-9
#: Two candidate planes are one where their unit vectors agree this closely.
SAME = 1e-9
#: Chords through the finding kink within the plane, for the far-point test (two ends each).
FAR_CHORDS = 3
#: Chord ends at which the function must kink on the plane.
FAR_HITS = 2
#: Half-width of the segment across the plane searched at a chord end, relative to ``1 + |point|``;
#: the kink must lie within ``PROBE_TOL`` of the half-width from the plane.
PROBE = 1e-4
PROBE_TOL = 1e-3


@dataclass
class Candidate:
    plane: torch.Tensor  # (dim + 1,): normal and offset scaled to length 1 together
    point: torch.Tensor  # the kink that found it
    jump: torch.Tensor  # (o, dim): gradient after minus before crossing it along the normal
    lines: set[int] = field(default_factory=set)  # lines on which a kink lies on it
    far: bool | None = None  # the far-point test's verdict, once run


def residual(plane: torch.Tensor, x: torch.Tensor) -> float:
    """How far ``x`` is off ``plane``, relative to the rounding of ``w·x + b``."""
    w, b = plane[:-1], float(plane[-1])
    return abs(float(w @ x) + b) / (float(w.norm() * x.norm()) + abs(b) + 1e-300)


def jump_plane(jump: torch.Tensor, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor | None:
    """The plane through ``x`` whose normal is the rank-one ``jump`` ``(o, dim)``'s right singular
    vector (``None`` where the jump is not rank one), oriented so that the normal meets ``v``
    positively (so ``jump`` is the gradient's step crossing it along its normal)."""
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
    chord
        ``(x, u) -> (lo, hi)``: how far the space lets a line ``x + t u`` run (unit ``u``).
    gen
        Random directions of the far-point test's chords.
    deeper
        Whether hidden units lie beyond this layer (otherwise every kink is one of its own units
        and the far-point test is skipped).
    """

    def __init__(self, reader: Reader, confirm: int, chord: Chord, gen: torch.Generator, deeper: bool = True) -> None:
        self.reader, self.confirm, self.chord, self.gen, self.deeper = reader, confirm, chord, gen, deeper
        self.candidates: list[Candidate] = []
        self.lines = 0
        self.gradients = 0
        self.far_rejected = 0

    def accepted(self) -> list[Candidate]:
        """Candidates confirmed by ``confirm`` lines besides their own and by the far-point test,
        most confirmed first."""
        good = [c for c in self.candidates if len(c.lines) > self.confirm and self.far(c)]
        return sorted(good, key=lambda c: -len(c.lines))

    def far(self, c: Candidate) -> bool:
        """Whether the function kinks on ``c``'s plane at ``FAR_HITS`` ends of random chords through
        ``c.point`` within the plane (run once per candidate)."""
        if c.far is None and not self.deeper:
            c.far = True
        if c.far is None:
            w, b = c.plane[:-1], float(c.plane[-1])
            n = w / w.norm()
            hits = 0
            for _ in range(FAR_CHORDS):
                u = torch.randn(len(w), generator=self.gen, dtype=torch.float64)
                u = u - (u @ n) * n
                u = u / u.norm()
                for t in self.chord(c.point, u):
                    p = c.point + t * u
                    p = p - (float(w @ p) + b) / float(w @ w) * w  # back onto the plane exactly
                    hits += self.kinks_at(p, n)
            c.far = hits >= FAR_HITS
            self.far_rejected += not c.far
        return c.far

    def kinks_at(self, p: torch.Tensor, n: torch.Tensor) -> bool:
        """Whether the function kinks at ``p`` (on a plane of unit normal ``n``) along ``n``."""
        lo, hi = self.chord(p, n)
        half = min(PROBE * (1 + float(p.norm())), -lo / 2, hi / 2)
        if not half > 0:
            return False
        return any(abs(t) <= PROBE_TOL * half for t in self.reader.kinks(p, n, -half, half))

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
            jump = grads[k + 1] - grads[k]
            plane = jump_plane(jump, points[k], v)
            if plane is not None:
                self.add_candidate(Candidate(plane, points[k], jump, {line}))

    def add_candidate(self, new: Candidate) -> None:
        """``new``, or its line credited to a known candidate of the same plane."""
        for c in self.candidates:
            if abs(float(c.plane @ new.plane)) >= 1 - SAME:
                c.lines |= new.lines
                return
        self.candidates.append(new)
