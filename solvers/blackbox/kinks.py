"""Ours for black-box reconstruction: read a one-hidden-layer ReLU network off its kinks.

Along a line ``x0 + t v`` the network is piecewise linear in ``t``; each kink is where one hidden
unit's hyperplane ``w·x + b = 0`` is crossed (every line crosses every hyperplane somewhere). A
kink is located exactly, without bisection to a tolerance, as the intersection of the two linear
pieces on either side (checked by a query on each side), splitting the interval where that fails. Just
either side of a kink the gradient (forward differences: the network is exactly linear there)
jumps by ``W2[:, i] w_i^T``: its leading right singular vector is the unit's ``w_i`` up to sign and
the kink gives ``b_i``. The outgoing weights then follow by least squares on further queries; the
unknown orientations (``relu(-z) = relu(z) - z``) show as a linear term, resolved when the
network has no more hidden units than ``o d``. (After the critical-point attacks on ReLU
networks, e.g. Carlini, Jagielski & Mironov 2020; the reported form is canonical anyway.)
"""
from __future__ import annotations

import time

import torch

from reassembly.params import Interval
from reassembly.query.blackbox import BlackboxProblem, BlackboxResult
from reassembly.solver import BaseSolver, StageReport
from solvers.oracles import require_oracle


class OutOfQueries(Exception):
    """The budget ran out before the network was read."""


class Reader:
    """Counted access to the oracle along lines, for a network of input width ``d``."""

    def __init__(self, oracle, d: int, gen: torch.Generator) -> None:
        self.oracle, self.d, self.gen = oracle, d, gen
        self.r: torch.Tensor | None = None  # random output mix: one scalar per point
        self.asked: list[tuple[torch.Tensor, torch.Tensor]] = []

    def query(self, X: torch.Tensor) -> torch.Tensor:
        left = self.oracle.remaining
        if left is not None and len(X) > left:
            raise OutOfQueries
        Y = self.oracle.query(X)
        self.asked.append((X, Y))
        return Y

    def scalar(self, X: torch.Tensor) -> torch.Tensor:
        Y = self.query(X)
        if self.r is None:
            self.r = torch.randn(Y.shape[1], generator=self.gen, dtype=torch.float64)
        return Y @ self.r

    def kinks(self, x0: torch.Tensor, v: torch.Tensor, a: float, b: float, depth: int = 60) -> list[float]:
        """Every kink of the line ``x0 + t v`` with ``a < t < b``."""
        point = lambda ts: x0[None, :] + torch.as_tensor(ts, dtype=torch.float64)[:, None] * v[None, :]  # noqa: E731
        fa, fb = self.scalar(point([a, b])).tolist()
        return self._split(point, a, b, fa, fb, depth)

    def _split(self, point, a: float, b: float, fa: float, fb: float, depth: int) -> list[float]:
        step = 1e-5 * (b - a)
        ga, gb = self.scalar(point([a + step, b - step])).tolist()
        sl, sr = (ga - fa) / step, (fb - gb) / step
        scale = 1e-8 * (1 + abs(fa) + abs(fb) + (abs(sl) + abs(sr)) * (b - a))
        if abs(sl - sr) * (b - a) > scale:
            t = (fb - fa + sl * a - sr * b) / (sl - sr)
            if a + 2 * step < t < b - 2 * step:
                near = 1e-4 * min(t - a, b - t)  # one kink: f is the left line up to t, the right one after
                left, right = t - near, t + near
                fl, fr = self.scalar(point([left, right])).tolist()
                if abs(fl - (fa + sl * (left - a))) <= scale and abs(fr - (fb + sr * (right - b))) <= scale:
                    return [t]
        m = (a + b) / 2
        fm = float(self.scalar(point([m]))[0])
        if abs(sl - sr) * (b - a) <= scale and abs(fm - (fa + sl * (m - a))) <= scale:
            return []
        if depth == 0 or b - a < 1e-7 * (1 + abs(a) + abs(b)):
            return []
        return self._split(point, a, m, fa, fm, depth - 1) + self._split(point, m, b, fm, fb, depth - 1)

    def gradient(self, x: torch.Tensor, eps: float) -> torch.Tensor:
        """``(o, d)``: forward differences of the outputs at ``x``."""
        Y = self.query(torch.cat([x[None, :], x[None, :] + eps * torch.eye(self.d, dtype=torch.float64)]))
        return ((Y[1:] - Y[0]) / eps).T


def unit_at(reader: Reader, x0: torch.Tensor, v: torch.Tensor, t: float, room: float) -> torch.Tensor | None:
    """The hyperplane ``(w, b)`` (unit length, ``w·v > 0``) of the kink at ``x0 + t v``; ``room``:
    distance along the line to the nearest other kink. ``None`` where the gradient does not jump by
    a rank-one step."""
    gap = min(room / 4, 1e-2)  # close to the kink: differences there cross no other hyperplane
    after, before = reader.gradient(x0 + (t + gap) * v, gap * 1e-2), reader.gradient(x0 + (t - gap) * v, gap * 1e-2)
    svd = torch.linalg.svd(after - before, full_matrices=False)
    sigma = svd.S.tolist() + [0.0]
    if sigma[0] <= 1e-6 * float(after.norm() + before.norm()) or sigma[1] > 1e-4 * sigma[0]:
        return None  # no clean jump of one unit: a misread kink
    w = svd.Vh[0]
    w = w if float(w @ v) > 0 else -w
    plane = torch.cat([w, -(w @ (x0 + t * v))[None]])
    return plane / plane.norm()


def hyperplanes(reader: Reader, h: int, span: float, lines: int) -> torch.Tensor:
    """``(h', d + 1)``: the hyperplanes found on at least two of up to ``lines`` random lines (every
    line crosses every hyperplane; a kink misread where two lie close does not repeat). Stops once
    ``h`` are confirmed."""
    found: list[torch.Tensor] = []
    votes: list[int] = []
    for _ in range(lines):
        x0 = 0.1 * torch.randn(reader.d, generator=reader.gen, dtype=torch.float64)
        v = torch.randn(reader.d, generator=reader.gen, dtype=torch.float64)
        v = v / v.norm()
        ts = sorted(reader.kinks(x0, v, -span, span))
        for t in ts:
            x = torch.cat([x0 + t * v, torch.ones(1, dtype=torch.float64)])
            same = [k for k, p in enumerate(found) if abs(float(p @ x)) < 1e-6 * float(x.norm())]  # a known plane's kink
            if not same:
                room = min([abs(t - s) for s in ts if s != t] + [span])
                plane = unit_at(reader, x0, v, t, room)
                if plane is None:
                    continue
                same = [k for k, p in enumerate(found) if abs(float(plane @ p)) > 1 - 1e-6]
            if same:
                votes[same[0]] += 1
            else:
                found.append(plane)
                votes.append(1)
        if sum(n >= 2 for n in votes) >= h:
            break
    order = sorted(range(len(found)), key=lambda k: -votes[k])
    return torch.stack([found[k] for k in order]) if found else torch.empty(0, reader.d + 1, dtype=torch.float64)


def read_out(planes: torch.Tensor, X: torch.Tensor, Y: torch.Tensor) -> dict[str, torch.Tensor]:
    """Outgoing weights by least squares, orientations fixed by the linear term they leave."""
    W, b = planes[:, :-1], planes[:, -1]
    Z = X @ W.T + b

    def lstsq(features: torch.Tensor) -> torch.Tensor:
        return torch.linalg.lstsq(features, Y, driver="gelsd").solution

    ones = torch.ones(len(X), 1, dtype=torch.float64)
    coef = lstsq(torch.cat([torch.relu(Z), X, ones], 1))  # (h + d + 1, o)
    a, L = coef[: len(W)], coef[len(W): -1]  # L = -sum over flipped units of w_i a_i^T
    terms = torch.stack([(W[i][:, None] * a[i][None, :]).reshape(-1) for i in range(len(W))], 1)
    flips = torch.linalg.lstsq(terms, -L.reshape(-1, 1), driver="gelsd").solution.flatten() > 0.5
    sign = torch.where(flips, -1.0, 1.0).to(torch.float64)
    W, b = W * sign[:, None], b * sign
    coef = lstsq(torch.cat([torch.relu(X @ W.T + b), ones], 1))
    return {"W1": W, "b1": b, "W2": coef[:-1].T.contiguous(), "b2": coef[-1].clone()}


class KinkBlackboxSolver(BaseSolver):
    """Reads a one-hidden-layer ReLU network off its kinks (module docstring): hyperplanes from
    the kinks along random lines, gradient jumps for their directions, least squares for the rest.
    Where the budget runs out first, the units not found are random and the fit uses the rows asked.

    Parameters
    ----------
    span
        Lines run over ``t`` in ``[-span, span]`` (unit direction; a kink beyond is not seen).
    lines
        Most random lines tried to find all ``h`` hyperplanes.
    fit_rows
        Gaussian rows for the least squares, as a multiple of ``h + d + 1``.
    random_state
        Seed of the lines, the output mix and the rows.
    """

    constraints = {"span": Interval(0, None, closed=False), "lines": Interval(1, None), "fit_rows": Interval(1, None),
                   "random_state": Interval(0, None)}

    def __init__(self, span: float = 50.0, lines: int = 4, fit_rows: float = 2.0, random_state: int = 0) -> None:
        self.span = span
        self.lines = lines
        self.fit_rows = fit_rows
        self.random_state = random_state

    def solve(self, problem: BlackboxProblem) -> BlackboxResult:
        self.validate()
        gen = torch.Generator().manual_seed(self.random_state)
        reader, t0, complete = Reader(require_oracle(problem, "black-box"), problem.d, gen), time.perf_counter(), True
        planes = torch.empty(0, problem.d + 1, dtype=torch.float64)
        try:
            planes = hyperplanes(reader, problem.h, self.span, self.lines)
            n = int(self.fit_rows * (problem.h + problem.d + 1))
            X = torch.randn(n, problem.d, generator=gen, dtype=torch.float64)
            Y = reader.query(X)
        except OutOfQueries:
            complete = False
            X, Y = (torch.cat(p) for p in zip(*reader.asked)) if reader.asked else (None, None)
        stages = [StageReport("kinks", "lines", seconds=time.perf_counter() - t0,
                              details={"found": len(planes), "complete": complete})]
        planes = planes[: problem.h]
        if len(planes) < problem.h:
            extra = torch.randn(problem.h - len(planes), problem.d + 1, generator=gen, dtype=torch.float64)
            planes = torch.cat([planes, extra / extra.norm(dim=1, keepdim=True)])
        if X is None:
            params = {"W1": planes[:, :-1], "b1": planes[:, -1], "W2": torch.zeros(problem.o, problem.h, dtype=torch.float64),
                      "b2": torch.zeros(problem.o, dtype=torch.float64)}
        else:
            params = read_out(planes, X, Y)
        return BlackboxResult(params, stages, {"units_found": int(stages[0].details["found"]), "complete": complete})
