"""Where one layer's kinks are read: the network's inputs, or (once a layer is known) the
positive orthant of that layer's activations, reached through the inputs.

Once a layer's hyperplanes ``W x + b`` are known and oriented, any positive activation vector
``c`` is reached by the input ``x = W^+ (c - b)`` (where ``W`` has full row rank), so the rest of
the network is a network on ``c`` that can be queried directly: peeling one layer leaves a
shallower black box on the orthant (its units whose planes miss the orthant are never seen and
cannot be told from a constant or a linear part).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from solvers.blackbox.lines import Query

#: Share of a sampled activation vector's entries that are (almost) off.
OFF = 0.5
#: How far the far-point test of a plane reaches from the kink that found it, in spans of the input lines.
FAR = 4.0
#: Share of a chord inside the orthant that is used (keeps its ends off the orthant's faces).
INSIDE = 0.9


class InputSpace:
    """The network's own inputs: lines through points near the origin, Gaussian rows to fit on.

    Parameters
    ----------
    dim
        Input width.
    query
        The oracle's (counted) query.
    span
        Lines run over ``t`` in ``[-span, span]`` (unit direction).
    """

    def __init__(self, dim: int, query: Query, span: float) -> None:
        self.dim, self.query, self.span = dim, query, span

    def line(self, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, float, float]:
        x0 = 0.1 * torch.randn(self.dim, generator=gen, dtype=torch.float64)
        v = torch.randn(self.dim, generator=gen, dtype=torch.float64)
        return x0, v / v.norm(), -self.span, self.span

    def sample(self, n: int, gen: torch.Generator) -> torch.Tensor:
        return torch.randn(n, self.dim, generator=gen, dtype=torch.float64)

    def chord(self, x: torch.Tensor, u: torch.Tensor) -> tuple[float, float]:
        """Where the line ``x + t u`` (unit ``u``) may run: ``FAR`` spans either side of ``x``."""
        return -FAR * self.span, FAR * self.span


class OrthantSpace:
    """Positive activations of a known layer ``relu(W x + b)``, reached through ``parent``.

    Parameters
    ----------
    parent
        The space the layer reads (its ``query`` is used for every point).
    W, b
        The layer's oriented hyperplanes, ``(n, parent.dim)`` and ``(n,)``; ``W`` of full row rank.
    """

    def __init__(self, parent: InputSpace | OrthantSpace, W: torch.Tensor, b: torch.Tensor) -> None:
        self.parent, self.dim, self.b = parent, W.shape[0], b
        self.pinv = torch.linalg.pinv(W)
        self.query: Callable[[torch.Tensor], torch.Tensor] = lambda C: parent.query(self.lift(C))

    def lift(self, C: torch.Tensor) -> torch.Tensor:
        """Points of the parent space whose activations are ``C`` ``(n, dim)``."""
        return (C - self.b) @ self.pinv.T

    def sample(self, n: int, gen: torch.Generator) -> torch.Tensor:
        """Sparse folded-normal rows at scales spread over two decades: each entry is off (a thousandth
        of the scale: still inside) with probability ``OFF``, as ReLU activations are on data, so
        that the next layer's planes, which may cross the orthant only near its faces, are crossed."""
        scale = torch.exp(math.log(10) * (2 * torch.rand(n, 1, generator=gen, dtype=torch.float64) - 1))
        on = torch.rand(n, self.dim, generator=gen, dtype=torch.float64) >= OFF
        return scale * torch.where(on, torch.randn(n, self.dim, generator=gen, dtype=torch.float64).abs(), 1e-3)

    def line(self, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, float, float]:
        """The chord through two random points, as far as it stays inside the orthant."""
        p, q = self.sample(2, gen)
        v = (q - p) / (q - p).norm()
        lo, hi = self.chord(p, v, 0.999)
        return p, v, lo, hi

    def chord(self, x: torch.Tensor, u: torch.Tensor, inside: float = INSIDE) -> tuple[float, float]:
        """``inside`` of the range of ``t`` over which ``x + t u`` stays in the orthant (``x`` in it)."""
        up, down = u > 0, u < 0
        lo = float((-x[up] / u[up]).max()) if bool(up.any()) else -1e6
        hi = float((-x[down] / u[down]).min()) if bool(down.any()) else 1e6
        return inside * lo, inside * hi
