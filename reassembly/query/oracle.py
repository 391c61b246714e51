"""The oracle of a query-only task: ``query(X) -> outputs`` of the original network, counted.

:class:`Oracle` answers queries in the process that holds the original network and counts every
row it answers; once ``budget`` rows are spent it refuses. In a bench it lives in the harness's
process, never in the solver's (:mod:`reassembly.harness.oracle_service`); the solver holds only
a client with the same ``query`` method. The count the referee records is the oracle's.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from reassembly.errors import ReassemblyError

MAX_ROWS_PER_QUERY = 1_000_000


class OracleError(ReassemblyError):
    """A query the oracle refuses: over the budget, or not a batch of input rows."""


class Oracle:
    """Outputs of ``fn`` for batches of rows ``(n, d)``, at most ``budget`` rows in all.

    Parameters
    ----------
    fn
        The original network: float64 rows ``(n, d)`` to float64 outputs ``(n, o)``.
    d
        Input width (every query must have ``d`` columns).
    budget
        Most rows answered in all (``None``: no limit).
    """

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor], d: int, budget: int | None) -> None:
        self.fn, self.d, self.budget = fn, d, budget
        self.used = self.calls = self.refused = 0

    @property
    def remaining(self) -> int | None:
        return None if self.budget is None else self.budget - self.used

    def check(self, X: object) -> torch.Tensor:
        """``X`` as float64 rows of this oracle's width, or :class:`OracleError`."""
        try:
            X = torch.as_tensor(X, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise OracleError(f"a query must be a numeric array of rows ({exc})") from None
        if X.ndim != 2 or X.shape[1] != self.d or not 1 <= X.shape[0] <= MAX_ROWS_PER_QUERY:
            raise OracleError(
                f"a query must be 1..{MAX_ROWS_PER_QUERY:,} rows of {self.d} inputs, got shape {tuple(X.shape)}"
            )
        if not bool(torch.isfinite(X).all()):
            raise OracleError("a query holds NaN or inf")
        return X

    def query(self, X: object) -> torch.Tensor:
        """Outputs ``(n, o)`` for rows ``X``; refused (nothing counted) beyond the budget."""
        rows = self.check(X)
        n = int(rows.shape[0])
        if self.budget is not None and self.used + n > self.budget:
            self.refused += 1
            raise OracleError(
                f"query budget exhausted: {n} rows asked, {self.budget - self.used} of {self.budget} left"
            )
        self.used += n
        self.calls += 1
        with torch.no_grad():
            return self.fn(rows).to(torch.float64)

    def counts(self) -> dict[str, int | None]:
        """What the referee records: rows answered, calls, refusals and the budget."""
        return {"queries": self.used, "query_calls": self.calls, "queries_refused": self.refused, "budget": self.budget}
