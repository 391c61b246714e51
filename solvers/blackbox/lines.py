"""Counted queries of a piecewise-linear function along lines: every kink of a segment located to
float64 precision, and the function's gradient in each linear region between kinks.

Along ``x0 + t v`` a ReLU network is piecewise linear in ``t``. On an interval ``[a, b]`` the lines
through the two ends (slopes from one more point just inside each end) meet at ``t*``; the interval
holds exactly one kink when the function lies on the left line just before ``t*`` and on the right one just after (two or more kinks would
bend it off them, except on a set of measure zero): checked just left and just right of ``t*``;
none when both ends share one line that also passes through the middle; otherwise it is split in
half. An accepted kink is then refined by intersecting the two lines again, each drawn through the
end and the check point on its own side (far apart: slopes with almost no rounding), which puts
``t*`` within a few ulps of the true crossing
(Carlini, Jagielski & Mironov 2020 find critical points the same way).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Query = Callable[[torch.Tensor], torch.Tensor]

#: Relative float64 tolerance of "on the line" (rounding of a few dozen operations, with margin).
ON_LINE = 1e-9
#: Inner points for the end slopes, as a share of the interval.
INNER = 1e-3
#: Check points either side of a supposed kink, as a share of its distance to the nearer end.
NEAR = 1e-3


class OutOfQueries(Exception):
    """The budget ran out before the network was read."""


class Reader:
    """Counted access to a query function on points of dimension ``dim``.

    Parameters
    ----------
    query
        Points ``(n, dim)`` to outputs ``(n, o)`` (float64); every call is counted by whoever owns it.
    dim
        Dimension of the points.
    mix
        ``(o,)``: the random output mix that makes one scalar of each output row.
    remaining
        Returns the rows still allowed (``None``: no limit); checked before each call.
    """

    def __init__(self, query: Query, dim: int, mix: torch.Tensor, remaining: Callable[[], int | None]) -> None:
        self._query, self.dim, self.mix, self._remaining = query, dim, mix, remaining

    def query(self, X: torch.Tensor) -> torch.Tensor:
        left = self._remaining()
        if left is not None and len(X) > left:
            raise OutOfQueries
        return self._query(X)

    def scalar(self, X: torch.Tensor) -> torch.Tensor:
        return self.query(X) @ self.mix

    def kinks(self, x0: torch.Tensor, v: torch.Tensor, a: float, b: float) -> list[float]:
        """Every kink of ``x0 + t v`` with ``a < t < b``, sorted, each to float64 precision.

        Parameters
        ----------
        x0, v
            The line's point and direction (``(dim,)``).
        a, b
            The segment searched (``a < b``).
        """

        def f(ts: list[float]) -> list[float]:
            T = torch.tensor(ts, dtype=torch.float64)
            return self.scalar(x0[None, :] + T[:, None] * v[None, :]).tolist()

        fa, fb = f([a, b])
        found: list[float] = []
        stack = [(a, b, fa, fb, 0)]
        while stack:
            a, b, fa, fb, depth = stack.pop()
            step = INNER * (b - a)
            ga, gb = f([a + step, b - step])
            sl, sr = (ga - fa) / step, (fb - gb) / step
            scale = ON_LINE * (abs(fa) + abs(fb) + (abs(sl) + abs(sr)) * (b - a)) + 1e-300
            if abs(sl - sr) * (b - a) > scale:
                t = (fb - fa + sl * a - sr * b) / (sl - sr)
                if a + step < t < b - step:
                    near = NEAR * min(t - a, b - t)
                    left, right = t - near, t + near
                    fl, fr = f([left, right])
                    if abs(fl - (fa + sl * (left - a))) <= scale and abs(fr - (fb + sr * (right - b))) <= scale:
                        found.append(self._meet(a, left, right, b, fa, fl, fr, fb, t))
                        continue
            m = (a + b) / 2
            fm = f([m])[0]
            if abs(sl - sr) * (b - a) <= scale and abs(fm - (fa + sl * (m - a))) <= scale:
                continue  # one line from a to b: no kink
            if depth >= 80 or b - a <= 1e-13 * (1 + abs(a) + abs(b)):
                continue  # kinks closer than float64 tells apart: left unread
            stack += [(m, b, fm, fb, depth + 1), (a, m, fa, fm, depth + 1)]
        return sorted(found)

    @staticmethod
    def _meet(
        a: float, left: float, right: float, b: float, fa: float, fl: float, fr: float, fb: float, t: float
    ) -> float:
        """Where the line through ``a`` and ``left`` meets the one through ``right`` and ``b`` (points
        far apart on each side of the one kink near ``t``: slopes with almost no rounding)."""
        sl, sr = (fl - fa) / (left - a), (fb - fr) / (b - right)
        if sl == sr:
            return t
        better = (fr - fl + sl * left - sr * right) / (sl - sr)
        return better if left < better < right else t

    def gradient(self, x: torch.Tensor, eps: float) -> torch.Tensor:
        """``(o, dim)``: forward differences of the outputs at ``x`` with step ``eps`` (exact where
        no kink lies within ``eps`` of ``x`` along any coordinate, up to rounding)."""
        Y = self.query(torch.cat([x[None, :], x[None, :] + eps * torch.eye(self.dim, dtype=torch.float64)]))
        return ((Y[1:] - Y[0]) / eps).T
