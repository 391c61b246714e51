"""The referee's measures of an assembly: MSE, SHA-256 and, where the answer is known, how right it is.

Exactness judges the assembled *function*: an assembly that differs from the answer piece for
piece (two interchangeable slots swapped, two identical pieces exchanged) is still exact when it
computes the same outputs, in float64, on the puzzle's rows and on random probe rows.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from reassembly.answer import Answer, Assembly, validate
from reassembly.kernel import Evaluator, PieceStack
from reassembly.puzzle import Puzzle

PROBE_ROWS = 256
SAME_FUNCTION_RTOL = 1e-9


@dataclass(frozen=True)
class Score:
    """How good an assembly is. Accuracies are NaN (and ``exact`` ``None``) where the answer is unknown;
    where only its hash is known, they are 1 for an exact answer and NaN otherwise."""

    mse: float
    sha256: str
    exact: bool | None
    grouping_accuracy: float
    order_exact: bool | None
    kendall_tau: float

    def as_dict(self) -> dict:
        return asdict(self)


def outputs(puzzle: Puzzle, assembly: Assembly, X: torch.Tensor | None = None) -> torch.Tensor:
    """Outputs ``(N, o)`` in float64 of the network ``assembly`` builds, on ``X`` (default: the puzzle's rows)."""
    stack = PieceStack(puzzle, torch.float64)
    X = puzzle.X if X is None else X
    ev = Evaluator(stack, assembly.head, X, torch.zeros(X.shape[0], *puzzle.pred.shape[1:]))
    return ev.output(ev.states(stack.arrangement(assembly))[-1])


def network_mse(puzzle: Puzzle, assembly: Assembly) -> float:
    """Mean squared error (float64) of the assembled network against ``pred``."""
    stack = PieceStack(puzzle, torch.float64)
    return Evaluator(stack, assembly.head, puzzle.X, puzzle.pred).mse(stack.arrangement(assembly))


def same_function(puzzle: Puzzle, a: Assembly, b: Assembly, seed: int = 0) -> bool:
    """Whether ``a`` and ``b`` compute the same outputs on the puzzle's rows and on random probes
    (Gaussian rows with the data's mean and spread; about ``PROBE_ROWS`` state vectors, so whole
    sequences where rows are sequences), to ``SAME_FUNCTION_RTOL``."""
    if a == b:
        return True
    gen = torch.Generator().manual_seed(seed)
    X = puzzle.X
    n = max(1, PROBE_ROWS // math.prod(X.shape[1:-1]))
    probes = X.mean(0) + X.std(0) * torch.randn(n, *X.shape[1:], generator=gen, dtype=X.dtype)
    rows = torch.cat([X, probes])
    ya, yb = outputs(puzzle, a, rows), outputs(puzzle, b, rows)
    return bool((ya - yb).abs().max() <= SAME_FUNCTION_RTOL * (1 + yb.abs().max()))


def grouping_accuracy(predicted: Assembly, truth: Assembly) -> float:
    """Share of the true blocks (pieces in slot order) that the prediction contains."""
    return len(set(predicted.blocks) & set(truth.blocks)) / len(truth.blocks)


def _positions(predicted: Assembly, truth: Assembly, anchor: int) -> list[int]:
    """Where the prediction puts each true block, the block named by its anchor piece."""
    pos = {piece: k for k, block in enumerate(predicted.blocks) for piece in block}
    return [pos[block[anchor]] for block in truth.blocks]


def order_exact(predicted: Assembly, truth: Assembly, anchor: int = 0) -> bool:
    """Whether every true block's anchor piece stands in the block of its true position."""
    return _positions(predicted, truth, anchor) == list(range(len(truth.blocks)))


def block_order_tau(predicted: Assembly, truth: Assembly, anchor: int = 0) -> float:
    """Kendall τ between true and predicted block positions, each block named by its anchor piece."""
    if len(truth.blocks) < 2:
        return 1.0
    from scipy.stats import kendalltau  # imported here: scipy.stats costs ~0.5 s, which answering alone never needs

    return float(kendalltau(range(len(truth.blocks)), _positions(predicted, truth, anchor)).statistic)


def score(puzzle: Puzzle, assembly: Assembly, answer: Answer | None = None) -> Score:
    """Validate ``assembly`` against ``puzzle`` and measure it; accuracies need ``answer``."""
    validate(assembly, puzzle.layout)
    sha = assembly.sha256()
    value = network_mse(puzzle, assembly)
    if answer is None:
        return Score(value, sha, None, math.nan, None, math.nan)
    truth = answer.assembly(puzzle.layout)
    if truth is None:
        exact = sha == answer.sha256
        ones = 1.0 if exact else math.nan
        return Score(value, sha, exact, ones, True if exact else None, ones)
    anchor = puzzle.layout.block_slots.index(puzzle.family.anchor)
    return Score(
        mse=value,
        sha256=sha,
        exact=sha == answer.sha256 or same_function(puzzle, assembly, truth),
        grouping_accuracy=grouping_accuracy(assembly, truth),
        order_exact=order_exact(assembly, truth, anchor),
        kendall_tau=block_order_tau(assembly, truth, anchor),
    )
