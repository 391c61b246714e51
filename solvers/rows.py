"""Row subsets a solver works on (the referee always scores on all rows)."""

from __future__ import annotations

import torch

from reassembly.errors import UnsupportedPuzzle
from reassembly.kernel import Evaluator, PieceStack
from reassembly.puzzle import Puzzle


def row_index(n_rows: int, rows: int | None, seed: int = 0, sampling: str = "random") -> torch.Tensor | None:
    """``rows`` row numbers drawn without replacement with ``seed`` (``sampling="head"``: the first
    ``rows``), or ``None`` for all rows."""
    if rows is None or rows >= n_rows:
        return None
    if sampling == "head":
        return torch.arange(rows)
    return torch.randperm(n_rows, generator=torch.Generator().manual_seed(seed))[:rows]


def evaluator(
    puzzle: Puzzle,
    stack: PieceStack,
    head: tuple[int, ...],
    rows: int | None = None,
    seed: int = 0,
    sampling: str = "random",
) -> Evaluator:
    """An evaluator of ``stack`` on ``rows`` of the puzzle's rows (all where ``None``) against ``pred``."""
    idx = row_index(puzzle.n_rows, rows, seed, sampling)
    X, y = (puzzle.X, puzzle.pred) if idx is None else (puzzle.X[idx], puzzle.pred[idx])
    return Evaluator(stack, head, X, y)


def first_rows(ev: Evaluator, rows: int) -> Evaluator:
    """An evaluator on the first ``rows`` of ``ev``'s rows (same pieces; its own evaluation count)."""
    return ev.with_rows(ev.X[:rows], ev.target[:rows])


def single_head(puzzle: Puzzle) -> tuple[int, ...]:
    """The head's piece ids where shapes leave no choice (each head slot's pool holds one piece)."""
    layout = puzzle.layout
    pools = [layout.pools[s] for s in layout.head_slots]
    if any(len(p) != 1 for p in pools):
        raise UnsupportedPuzzle("the head's pieces share their shape with block pieces; this solver cannot place them")
    return tuple(p[0] for p in pools)
