"""Scores of a proposed permutation: MSE, SHA-256, and, where the answer is known, accuracies."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

from scipy.stats import kendalltau

from reassembly.answer import Answer
from reassembly.network import mse
from reassembly.permutation import Assembly, permutation_sha256
from reassembly.puzzle import Puzzle


@dataclass(frozen=True)
class Score:
    """How good a permutation is. Accuracies are NaN where only the answer's hash is known."""

    mse: float
    sha256: str
    exact: bool | None
    pairing_accuracy: float
    order_exact: bool | None
    kendall_tau: float

    def as_dict(self) -> dict:
        return asdict(self)


def pairing_accuracy(predicted: Assembly, truth: Assembly) -> float:
    """Fraction of true ``(inp, out)`` pairs the prediction contains."""
    return len(predicted.pairs & truth.pairs) / len(truth.blocks)


def block_order_tau(predicted: Assembly, truth: Assembly) -> float:
    """Kendall τ between predicted and true positions of blocks, each block named by its input projection."""
    pos = {inp: k for k, (inp, _) in enumerate(predicted.blocks)}
    true_positions = list(range(len(truth.blocks)))
    predicted_positions = [pos[inp] for inp, _ in truth.blocks]
    if len(true_positions) < 2:
        return 1.0
    return float(kendalltau(true_positions, predicted_positions).statistic)


def order_exact(predicted: Assembly, truth: Assembly) -> bool:
    """Whether the input projections stand in the true order (pairing aside)."""
    return [i for i, _ in predicted.blocks] == [i for i, _ in truth.blocks]


def score(puzzle: Puzzle, permutation: Sequence[int], answer: Answer | None = None) -> Score:
    """Score ``permutation`` on ``puzzle``; accuracies need ``answer`` (its permutation, or its hash)."""
    predicted = Assembly.from_permutation(permutation, puzzle.roles)
    sha = permutation_sha256(permutation)
    value = mse(puzzle, permutation)
    if answer is None:
        return Score(value, sha, None, math.nan, None, math.nan)
    exact = sha == answer.sha256
    if answer.permutation is None:
        ones = 1.0 if exact else math.nan
        return Score(value, sha, exact, ones, True if exact else None, ones)
    truth = Assembly.from_permutation(answer.permutation, puzzle.roles)
    return Score(
        mse=value,
        sha256=sha,
        exact=exact,
        pairing_accuracy=pairing_accuracy(predicted, truth),
        order_exact=order_exact(predicted, truth),
        kendall_tau=block_order_tau(predicted, truth),
    )
