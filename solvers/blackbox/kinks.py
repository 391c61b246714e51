"""Ours for black-box reconstruction: read a ReLU network off its kinks, one layer at a time.

Every hidden unit of the first layer is a hyperplane in input space where the network kinks; each
is found at a kink of a random line, read off the rank-one gradient jump there and accepted when
other lines cross it at kinks too and it still kinks the function far away on the plane
(:mod:`solvers.blackbox.planes`, kinks located to float64 precision by :mod:`solvers.blackbox.lines`).
With more layers the known layer is peeled: the rest of the network is queried on the positive
orthant of that layer's activations (:mod:`solvers.blackbox.spaces`). Orientations: the first layer
by the response test below (every activation vector is reached from the inputs); a deeper, not last
layer by the side of its kinks on which it shows in the gradient (:mod:`solvers.blackbox.sides`);
the last hidden layer, and the output layer with it, from the gradient jumps at its planes
(:mod:`solvers.blackbox.readout`), after the critical-point attacks on ReLU networks (Carlini,
Jagielski & Mironov 2020; Canales-Martinez et al. 2024). Three hidden layers are not read exactly
yet: docs/blackbox-extraction.md says where and why.
"""

from __future__ import annotations

import time

import torch

from reassembly.params import Interval
from reassembly.query.blackbox import BlackboxProblem, BlackboxResult
from reassembly.solver import BaseSolver, StageReport
from solvers.blackbox.lines import OutOfQueries, Reader
from solvers.blackbox.planes import PlaneFinder
from solvers.blackbox.readout import offset, outgoing, signs_from_jumps
from solvers.blackbox.sides import signs_from_sides
from solvers.blackbox.spaces import InputSpace, OrthantSpace
from solvers.oracles import require_oracle

Space = InputSpace | OrthantSpace


def find_layer(
    reader: Reader, space: Space, h: int, lines: int, confirm: int, gen: torch.Generator, deeper: bool = True
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, PlaneFinder]:
    """Up to ``h`` accepted hyperplanes ``(h', dim + 1)`` of the first layer of the network on
    ``space``, their gradient jumps ``(h', o, dim)`` and the kinks that found them ``(h', dim)``, read from at most ``lines`` random lines
    (new candidates only while fewer than ``h`` are accepted; ``deeper``: hidden layers lie beyond it)."""
    finder = PlaneFinder(reader, confirm, space.chord, gen, deeper)
    for _ in range(lines):
        x0, v, a, b = space.line(gen)
        finder.add_line(x0, v, a, b, new=len(finder.accepted()) < h)
        if len(finder.accepted()) >= h:
            break
    best = finder.accepted()[:h]
    if not best:
        empty = torch.empty(0, space.dim, dtype=torch.float64)
        return torch.empty(0, space.dim + 1, dtype=torch.float64), empty[None].expand(0, 0, -1), empty, finder
    return (
        torch.stack([c.plane for c in best]),
        torch.stack([c.jump for c in best]),
        torch.stack([c.point for c in best]),
        finder,
    )


def orient(
    reader: Reader, parent: Space, planes: torch.Tensor, gen: torch.Generator, bases: int = 3
) -> tuple[torch.Tensor, float]:
    """Signs that make each plane's positive side its unit's active side: moved along its own
    activation (every other activation held), the network responds only where the unit is active.
    Needs the planes' normals of full row rank (every activation vector reachable: the first layer
    of a network at least as wide in its inputs as in its units).
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


def padded(planes: torch.Tensor, h: int, gen: torch.Generator) -> torch.Tensor:
    """``planes`` with random unit rows added up to ``h`` (units not found)."""
    if len(planes) >= h:
        return planes[:h]
    extra = torch.randn(h - len(planes), planes.shape[1], generator=gen, dtype=torch.float64)
    return torch.cat([planes, extra / extra.norm(dim=1, keepdim=True)])


class KinkBlackboxSolver(BaseSolver):
    """Reads a ReLU network of one or more hidden layers off its kinks (module docstring): each
    layer's hyperplanes from the gradient jumps at kinks of random lines, confirmed on other lines
    and far along the plane; deeper layers on the orthant of the known layer's activations; the
    output layer from the last layer's gradient jumps. Where the budget runs out first, the units
    not found are random and their outgoing weights zero.

    Parameters
    ----------
    span
        Lines in input space run over ``t`` in ``[-span, span]`` (unit direction; a kink beyond is not seen).
    lines
        Most random lines per layer.
    confirm
        Other lines that must cross a hyperplane at a kink before it is accepted.
    offset_rows
        Rows whose mean residual gives the output bias.
    random_state
        Seed of the lines, the output mix and the rows.
    """

    constraints = {
        "span": Interval(0, None, closed=False),
        "lines": Interval(1, None),
        "confirm": Interval(1, None),
        "offset_rows": Interval(1, None),
        "random_state": Interval(0, None),
    }

    def __init__(
        self, span: float = 50.0, lines: int = 2000, confirm: int = 1, offset_rows: int = 16, random_state: int = 0
    ) -> None:
        self.span = span
        self.lines = lines
        self.confirm = confirm
        self.offset_rows = offset_rows
        self.random_state = random_state

    def solve(self, problem: BlackboxProblem) -> BlackboxResult:
        self.validate()
        gen = torch.Generator().manual_seed(self.random_state)
        oracle = require_oracle(problem, "black-box")
        mix = torch.randn(problem.o, generator=gen, dtype=torch.float64)
        space: Space = InputSpace(problem.d, oracle.query, self.span)
        layers: list[torch.Tensor] = []
        stages: list[StageReport] = []
        W_out = torch.zeros(problem.o, problem.h, dtype=torch.float64)
        complete, depth = True, problem.layers
        for layer in range(depth):
            t0, used = time.perf_counter(), oracle.used
            reader = Reader(space.query, space.dim, mix, lambda: oracle.remaining)
            details: dict = {}
            try:
                planes, jumps, points, finder = find_layer(
                    reader, space, problem.h, self.lines, self.confirm, gen, layer < depth - 1
                )
                details = {
                    "found": len(planes),
                    "lines": finder.lines,
                    "gradients": finder.gradients,
                    "candidates": len(finder.candidates),
                    "far_rejected": finder.far_rejected,
                }
                if layer < depth - 1 and isinstance(space, InputSpace) and space.dim >= problem.h:  # all reachable
                    planes = padded(planes, problem.h, gen)
                    signs, details["orientation_ratio"] = orient(reader, space, planes, gen)
                elif layer < depth - 1:
                    signs, details["orientation_ratio"] = signs_from_sides(reader, space.chord, planes, points)
                else:
                    signs, details["sign_residual"] = signs_from_jumps(reader, space, planes, jumps, gen)
                    W_out[:, : len(planes)] = outgoing(planes, jumps)
                planes = padded(planes * signs[:, None], problem.h, gen)
            except OutOfQueries:
                complete = False
                planes = padded(torch.empty(0, space.dim + 1, dtype=torch.float64), problem.h, gen)
            stages.append(
                StageReport(
                    "kinks",
                    f"layer{layer + 1}",
                    seconds=time.perf_counter() - t0,
                    details={**details, "queries": oracle.used - used, "complete": complete},
                )
            )
            layers.append(planes)
            if not complete:
                break
            if layer < depth - 1:
                space = OrthantSpace(space, planes[:, :-1], planes[:, -1])
        while len(layers) < depth:
            layers.append(padded(torch.empty(0, problem.h + 1, dtype=torch.float64), problem.h, gen))
        left = oracle.remaining
        n = 0 if not complete else self.offset_rows if left is None else min(self.offset_rows, left)
        if n > 0:
            X = space.sample(n, gen)
            b_out = offset((layers[-1][:, :-1], layers[-1][:, -1], W_out), X, space.query(X))
        else:
            b_out = torch.zeros(problem.o, dtype=torch.float64)
        mats = [(p[:, :-1], p[:, -1]) for p in layers] + [(W_out, b_out)]
        params = {
            name: t.contiguous() for k, (Wk, bk) in enumerate(mats, 1) for name, t in ((f"W{k}", Wk), (f"b{k}", bk))
        }
        return BlackboxResult(
            params, stages, {"units_found": [s.details.get("found", 0) for s in stages], "complete": complete}
        )
