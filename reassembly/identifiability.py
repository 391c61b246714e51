"""Whether a puzzle's data can tell candidate answers apart at all (a measured, necessary test).

The first block sees the data only through ``W x + b``: where the rows of ``X`` (with a column of
ones for the bias) do not span the residual width's ``d + 1`` dimensions, pieces, pairings and
orders that differ only off that span give the same outputs on every row, and a zero-loss answer
need not be the true one. The test is the numerical rank of ``[X, 1]``: ``rank < d + 1`` means the
data cannot identify the answer. Passing it is necessary, not sufficient: a puzzle that passes may
still admit other answers of equal loss. Families of token sequences (whose blocks normalise and mix
positions first) are not tested.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class Identifiability:
    """The measured test: ``rank`` of the data's states with a ones column against ``needed``
    (``d + 1``); ``identifiable`` is ``rank >= needed``."""

    rows: int
    rank: int
    needed: int

    @property
    def identifiable(self) -> bool:
        return self.rank >= self.needed

    def note(self) -> str:
        """One line for people (empty where the test passes)."""
        if self.identifiable:
            return ""
        return (
            f"the data cannot tell candidate answers apart: {self.rows} row(s) span rank {self.rank} "
            f"< {self.needed} (width + 1), so an answer that fits them is not shown to be the true one"
        )

    def as_dict(self) -> dict[str, Any]:
        return {"identifiable": self.identifiable, "data_rank": self.rank, "rank_needed": self.needed}


def of_puzzle(puzzle: Any) -> Identifiability | None:
    """The test on a puzzle's data table (``None`` for families of token sequences: not tested)."""
    if getattr(puzzle.family, "data_format", "table") == "sequences":
        return None
    return identifiability(puzzle.X)


def identifiability(X: torch.Tensor) -> Identifiability:
    """The test on data states ``X`` (``(N, d)``, or ``(N, T, d)`` for token sequences).

    Parameters
    ----------
    X
        The inputs a puzzle's first block sees.
    """
    states = X.reshape(-1, X.shape[-1]).to(torch.float64)
    rows, d = states.shape
    if rows == 0:
        return Identifiability(0, 0, d + 1)
    rank = 0
    if rows > 4 * (d + 1):  # a random sample of rows of full rank settles it quickly
        rank = _rank(states[torch.randperm(rows, generator=torch.Generator().manual_seed(0))[: 4 * (d + 1)]])
    if rank < d + 1:
        rank = _rank(states)
    return Identifiability(rows, rank, d + 1)


def _rank(states: torch.Tensor) -> int:
    return int(torch.linalg.matrix_rank(torch.cat([states, torch.ones(len(states), 1, dtype=torch.float64)], dim=1)))
