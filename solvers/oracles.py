"""What every solver that asks an oracle shares: the oracle a problem carries, asking within the
budget, and how much a committee of candidate networks disagrees on each row."""

from __future__ import annotations

from typing import Any

import torch

from reassembly.errors import UnsupportedPuzzle


def require_oracle(problem: Any, kind: str) -> Any:
    """The oracle attached to ``problem``, or :class:`UnsupportedPuzzle` naming the ``kind`` of problem."""
    if problem.oracle is None:
        raise UnsupportedPuzzle(f"no oracle is attached to this {kind} problem")
    return problem.oracle


def ask_within_budget(oracle: Any, X: torch.Tensor, width: int) -> torch.Tensor:
    """The oracle's outputs ``(n, width)`` for the first rows of ``X`` that what is left of the
    budget allows (all of them without a budget; none once it is spent)."""
    left = oracle.remaining
    if left is not None:
        X = X[: max(0, left)]
    return oracle.query(X) if len(X) else torch.empty(0, width, dtype=torch.float64)


def disagreement(outs: torch.Tensor) -> torch.Tensor:
    """Per row, the mean pairwise L1 distance of the members' (normalised) outputs ``(members, n, o)``:
    the committee disagreement of "Sequencing the Neurome"."""
    members = len(outs)
    pairs = [(outs[i] - outs[j]).abs().sum(-1) for i in range(members) for j in range(i + 1, members)]
    return torch.stack(pairs).mean(0)
