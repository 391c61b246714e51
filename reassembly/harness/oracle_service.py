"""A task's oracle across the process boundary: the harness's process holds the
:class:`~reassembly.query.oracle.Oracle` (the original network, the count, the budget); the
solver's process holds an :class:`OracleClient` that sends ``("query", {"X": rows})`` on the
result pipe and reads ``("answer", {"Y": outputs})`` or ``("refused", {"error": why})`` from a
second pipe. Whatever the solver does in its own process, the count is the harness's."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from reassembly.query.oracle import Oracle, OracleError


class OracleClient:
    """The solver's end: ``query(X) -> outputs`` (float64), raising
    :class:`~reassembly.query.oracle.OracleError` where the harness refuses.

    Parameters
    ----------
    conn
        The result pipe to the harness (queries go there).
    replies
        The pipe the harness answers on.
    budget
        The budget as the problem states it (``remaining`` counts down from it; the harness's
        own count is what is recorded).
    """

    def __init__(self, conn: Any, replies: Any, budget: int | None = None) -> None:
        self.conn, self.replies, self.budget = conn, replies, budget
        self.used = 0

    @property
    def remaining(self) -> int | None:
        return None if self.budget is None else self.budget - self.used

    def query(self, X: Any) -> torch.Tensor:
        rows = np.ascontiguousarray(torch.as_tensor(X, dtype=torch.float64).numpy())
        self.conn.send(("query", {"X": rows}))
        kind, body = self.replies.recv()
        if kind != "answer":
            raise OracleError(str(body.get("error", "the oracle refused the query")))
        self.used += len(rows)
        return torch.from_numpy(np.array(body["Y"], dtype=np.float64))


def answer(oracle: Oracle, fields: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The harness's reply to one query message."""
    try:
        return "answer", {"Y": oracle.query(fields.get("X")).numpy()}
    except OracleError as exc:
        return "refused", {"error": str(exc)}
