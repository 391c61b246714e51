"""A task's oracle across the process boundary: the harness's process holds the
:class:`~reassembly.query.oracle.Oracle` (the original network, the count, the budget); the
solver's process holds an :class:`OracleClient` that sends ``["query", {"X": rows}]`` on the
result pipe and reads ``["answer", {"Y": outputs}]`` or ``["refused", {"error": why}]`` from a
second pipe, all as JSON lines (:mod:`reassembly.harness.wire`). Whatever the solver does in its
own process, the count is the harness's."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from reassembly.harness import wire
from reassembly.query.oracle import Oracle, OracleError

REPLY_KINDS = ("answer", "refused")


class OracleClient:
    """The solver's end: ``query(X) -> outputs`` (float64), raising
    :class:`~reassembly.query.oracle.OracleError` where the harness refuses.

    Parameters
    ----------
    fd
        The result pipe's file descriptor (queries go there).
    replies
        The file descriptor of the pipe the harness answers on.
    budget
        The budget as the problem states it (``remaining`` counts down from it; the harness's
        own count is what is recorded).
    """

    def __init__(self, fd: int, replies: int, budget: int | None = None) -> None:
        self.fd, self.reader, self.budget = fd, wire.Reader(replies, REPLY_KINDS), budget
        self.used = 0

    @property
    def remaining(self) -> int | None:
        return None if self.budget is None else self.budget - self.used

    def query(self, X: Any) -> torch.Tensor:
        rows = np.ascontiguousarray(torch.as_tensor(X, dtype=torch.float64).numpy())
        with wire.SEND_LOCK:  # one query and its reply at a time
            wire.write_all(self.fd, wire.encode("query", {"X": wire.encode_array(rows)}))
            kind, body = self.reader.receive()
        if kind != "answer":
            raise OracleError(str(body.get("error", "the oracle refused the query")))
        self.used += len(rows)
        return torch.from_numpy(wire.decode_array(body.get("Y"), "the oracle's reply"))


def answer(oracle: Oracle, fields: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The harness's reply to one query message: never raises for what the query holds."""
    try:
        X = wire.decode_array(fields.get("X"), "query")
        return "answer", {"Y": wire.encode_array(oracle.query(X).numpy())}
    except (OracleError, wire.WireError) as exc:
        return "refused", {"error": str(exc)[:500]}
    except Exception as exc:  # huge or odd values the network cannot take: refused, counted nowhere
        return "refused", {"error": f"the oracle cannot answer this query ({type(exc).__name__}: {str(exc)[:200]})"}
