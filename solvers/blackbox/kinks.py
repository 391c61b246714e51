"""Ours for black-box reconstruction: read a ReLU network off its kinks, one layer at a time.

Every hidden unit of the first layer is a hyperplane in input space where the network kinks; each
is found at a kink of a random line, read off the rank-one gradient jump there and accepted when
other lines cross it at kinks too (:mod:`solvers.blackbox.planes`, kinks located to float64
precision by :mod:`solvers.blackbox.lines`). With more layers the known layer is peeled: the
rest of the network is queried on the positive orthant of that layer's activations
(:mod:`solvers.blackbox.spaces`), each unit's orientation being the one under which the network
responds to its activation at all. The last hidden layer's orientations follow from the linear
term that a flipped unit leaves (``relu(-z) = relu(z) - z``; sound where the rows cross every plane
often, as Gaussian rows do in input space; on an orthant a plane crossed by few rows is oriented
badly, which is where two-layer extraction stops today, docs/blackbox-extraction.md) and the
outgoing weights from least squares (after the critical-point attacks on ReLU networks, Carlini, Jagielski & Mironov 2020).
"""
from __future__ import annotations

import time

import torch

from reassembly.params import Interval
from reassembly.query.blackbox import BlackboxProblem, BlackboxResult
from reassembly.solver import BaseSolver, StageReport
from solvers.blackbox.lines import OutOfQueries, Reader
from solvers.blackbox.planes import PlaneFinder
from solvers.blackbox.spaces import InputSpace, OrthantSpace
from solvers.oracles import require_oracle

Space = InputSpace | OrthantSpace


def find_layer(reader: Reader, space: Space, h: int, lines: int, confirm: int, gen: torch.Generator) -> tuple[torch.Tensor, PlaneFinder]:
    """``(h', dim + 1)``: up to ``h`` accepted hyperplanes of the first layer of the network on
    ``space``, read from at most ``lines`` random lines (new candidates only while fewer than ``h``
    are accepted)."""
    finder = PlaneFinder(reader, confirm)
    for _ in range(lines):
        x0, v, a, b = space.line(gen)
        finder.add_line(x0, v, a, b, new=len(finder.accepted()) < h)
        if len(finder.accepted()) >= h and sum(len(c.lines) > confirm for c in finder.candidates) >= h:
            break
    planes = [c.plane for c in finder.accepted()[:h]]
    return (torch.stack(planes) if planes else torch.empty(0, space.dim + 1, dtype=torch.float64)), finder


def orient(reader: Reader, parent: Space, planes: torch.Tensor, gen: torch.Generator, bases: int = 3) -> tuple[torch.Tensor, float]:
    """Signs that make each plane's positive side its unit's active side: moved along its own
    activation (every other activation held), the network responds only where the unit is active.
    Needs the planes' normals of full row rank (every activation vector reachable).
    Also the largest ratio of the weaker response to the stronger (near 0 where the test is clear)."""
    probe = OrthantSpace(parent, planes[:, :-1], planes[:, -1])
    n = len(planes)
    response = torch.zeros(n, 2, dtype=torch.float64)
    for _ in range(bases):
        c = probe.sample(1, gen)[0]
        delta = 0.1 * float(c.mean())
        rows = []
        for i in range(n):
            for sign in (1.0, -1.0):
                base = c.clone()
                base[i] = sign * c[i]
                moved = base.clone()
                moved[i] = sign * (c[i] + delta)
                rows += [base, moved]
        Y = reader.query(probe.lift(torch.stack(rows)))
        diff = (Y[1::2] - Y[0::2]).norm(dim=1).reshape(n, 2)
        response += diff
    signs = torch.where(response[:, 0] >= response[:, 1], 1.0, -1.0).to(torch.float64)
    ratio = float((response.min(1).values / response.max(1).values.clamp_min(1e-300)).max()) if n else 0.0
    return signs, ratio


def read_out(planes: torch.Tensor, X: torch.Tensor, Y: torch.Tensor, oriented: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The last hidden layer oriented (unless ``oriented``: by the linear term flipped units leave,
    which needs every plane crossed by the rows ``X``) and its outgoing weights by least squares:
    ``W, b, W_out, b_out``."""
    W, b = planes[:, :-1], planes[:, -1]
    ones = torch.ones(len(X), 1, dtype=torch.float64)

    def lstsq(features: torch.Tensor) -> torch.Tensor:
        return torch.linalg.lstsq(features, Y, driver="gelsd").solution

    if oriented:
        coef = lstsq(torch.cat([torch.relu(X @ W.T + b), ones], 1))
        return W, b, coef[:-1].T.contiguous(), coef[-1].clone()
    coef = lstsq(torch.cat([torch.relu(X @ W.T + b), X, ones], 1))  # (h + d + 1, o)
    a, L = coef[: len(W)], coef[len(W): -1]  # L = -sum over flipped units of w_i a_i^T
    terms = torch.stack([(W[i][:, None] * a[i][None, :]).reshape(-1) for i in range(len(W))], 1)
    flips = torch.linalg.lstsq(terms, -L.reshape(-1, 1), driver="gelsd").solution.flatten() > 0.5
    sign = torch.where(flips, -1.0, 1.0).to(torch.float64)
    W, b = W * sign[:, None], b * sign
    coef = lstsq(torch.cat([torch.relu(X @ W.T + b), ones], 1))
    return W, b, coef[:-1].T.contiguous(), coef[-1].clone()


def padded(planes: torch.Tensor, h: int, gen: torch.Generator) -> torch.Tensor:
    """``planes`` with random unit rows added up to ``h`` (units not found)."""
    if len(planes) >= h:
        return planes[:h]
    extra = torch.randn(h - len(planes), planes.shape[1], generator=gen, dtype=torch.float64)
    return torch.cat([planes, extra / extra.norm(dim=1, keepdim=True)])


class KinkBlackboxSolver(BaseSolver):
    """Reads a ReLU network of one or more hidden layers off its kinks (module docstring): each
    layer's hyperplanes from the gradient jumps at kinks of random lines, confirmed on other lines;
    deeper layers on the orthant of the known layer's activations; least squares for the outputs.
    Where the budget runs out first, the units not found are random and the fit uses what is known.

    Parameters
    ----------
    span
        Lines in input space run over ``t`` in ``[-span, span]`` (unit direction; a kink beyond is not seen).
    lines
        Most random lines per layer.
    confirm
        Other lines that must cross a hyperplane at a kink before it is accepted.
    fit_rows
        Rows for the final least squares, as a multiple of ``h + dim + 1``.
    random_state
        Seed of the lines, the output mix and the rows.
    """

    constraints = {"span": Interval(0, None, closed=False), "lines": Interval(1, None), "confirm": Interval(1, None),
                   "fit_rows": Interval(1, None), "random_state": Interval(0, None)}

    def __init__(self, span: float = 50.0, lines: int = 2000, confirm: int = 1, fit_rows: float = 2.0, random_state: int = 0) -> None:
        self.span = span
        self.lines = lines
        self.confirm = confirm
        self.fit_rows = fit_rows
        self.random_state = random_state

    def solve(self, problem: BlackboxProblem) -> BlackboxResult:
        self.validate()
        gen = torch.Generator().manual_seed(self.random_state)
        oracle = require_oracle(problem, "black-box")
        mix = torch.randn(problem.o, generator=gen, dtype=torch.float64)
        space: Space = InputSpace(problem.d, oracle.query, self.span)
        layers, stages, complete = [], [], True
        depth = problem.layers
        for layer in range(depth):
            t0, used = time.perf_counter(), oracle.used
            reader = Reader(space.query, space.dim, mix, lambda: oracle.remaining)
            details: dict = {}
            try:
                planes, finder = find_layer(reader, space, problem.h, self.lines, self.confirm, gen)
                details = {"found": len(planes), "lines": finder.lines, "gradients": finder.gradients,
                           "candidates": len(finder.candidates)}
                planes = padded(planes, problem.h, gen)
                if layer < depth - 1:
                    signs, ratio = orient(reader, space, planes, gen)
                    planes = planes * signs[:, None]
                    details["orientation_ratio"] = ratio
            except OutOfQueries:
                complete = False
                planes = padded(torch.empty(0, space.dim + 1, dtype=torch.float64), problem.h, gen)
            stages.append(StageReport("kinks", f"layer{layer + 1}", seconds=time.perf_counter() - t0,
                                      details={**details, "queries": oracle.used - used, "complete": complete}))
            layers.append(planes)
            if not complete:
                break
            if layer < depth - 1:
                space = OrthantSpace(space, planes[:, :-1], planes[:, -1])
        while len(layers) < depth:
            layers.append(padded(torch.empty(0, problem.h + 1, dtype=torch.float64), problem.h, gen))
        params = self.assemble(problem, layers, space, gen, oracle.remaining if complete else 0)
        return BlackboxResult(params, stages, {"units_found": [s.details.get("found", 0) for s in stages], "complete": complete})

    def assemble(self, problem: BlackboxProblem, layers: list[torch.Tensor], space: Space, gen: torch.Generator,
                 left: int | None) -> dict[str, torch.Tensor]:
        """Parameters ``W1, b1, ...`` from the layers' planes, the last hidden layer oriented and the
        output layer fitted by least squares on up to ``left`` rows of the last space (zeros if none)."""
        last = layers[-1]
        n = int(self.fit_rows * (problem.h + space.dim + 1))
        n = n if left is None else min(n, left)
        if n > 0:
            X = space.sample(n, gen)
            W, b, W_out, b_out = read_out(last, X, space.query(X), oriented=False)
        else:
            W, b = last[:, :-1], last[:, -1]
            W_out, b_out = torch.zeros(problem.o, problem.h, dtype=torch.float64), torch.zeros(problem.o, dtype=torch.float64)
        mats = [(p[:, :-1], p[:, -1]) for p in layers[:-1]] + [(W, b), (W_out, b_out)]
        return {name: t.contiguous() for k, (Wk, bk) in enumerate(mats, 1) for name, t in ((f"W{k}", Wk), (f"b{k}", bk))}
