"""Grouping: which pieces form one block, from weight statistics alone.

Every block has one *write* slot (it writes to the residual stream) and one or more *read* slots;
each write piece gets its read pieces by the Hungarian algorithm on a score matrix. Scores:

- ``ddr`` (the paper): diagonal dominance ratio of ``W_write W_read``;
- ``cosine`` ("Find the Lady"): ``|mean_k cos|`` of each hidden unit's read and write vectors;
- ``units``: hidden-unit statistics shared by all pieces of a block, which co-adapt in training:
  the correlation, across hidden units, of the pieces' per-unit norms, and the unit cosine. Each
  (z-scored) is weighted by how far its optimal assignment stands above that of the same scores
  shuffled (a permutation null): a signal that is absent weighs nothing. The only score that also
  groups gated blocks (``swiglu``, where the gate's read vectors are not aligned with the write's).

DDR and the cosine are invariant to a function-preserving permutation and rescaling of hidden
units; per-unit norms are not (a rescaled net loses that signal, and the null weighting then
drops it). A norm gain (``scale`` slot) is placed by the correlation of its entries with the
per-column norms of its block's read pieces (``units``; otherwise in id order). Which of two
same-shaped read pieces of a block is which is left to data-driven search.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from reassembly.errors import UnsupportedPuzzle
from reassembly.families.base import Slot
from reassembly.puzzle import Puzzle


def ddr_scores(w_read: torch.Tensor, w_write: torch.Tensor) -> torch.Tensor:
    """``|tr(W_write_b W_read_a)| / ||W_write_b W_read_a||_F`` for all ``(a, b)``: ``w_read``
    ``(A, h, d)``, ``w_write`` ``(B, d, h)``, result ``(A, B)``; Frobenius norms from Gram matrices."""
    w_read, w_write = w_read.double(), w_write.double()
    trace = w_read.transpose(1, 2).flatten(1) @ w_write.flatten(1).T
    gram_read = (w_read @ w_read.transpose(1, 2)).flatten(1)
    gram_write = (w_write.transpose(1, 2) @ w_write).flatten(1)
    frob = (gram_read @ gram_write.T).clamp_min(0).sqrt()
    return trace.abs() / frob.clamp_min(torch.finfo(frob.dtype).tiny)


def cosine_scores(w_read: torch.Tensor, w_write: torch.Tensor) -> torch.Tensor:
    """``|mean_k cos(W_read_a[k, :], W_write_b[:, k])|``: per-hidden-unit alignment of read and write vectors."""
    rows = torch.nn.functional.normalize(w_read.double(), dim=2)
    cols = torch.nn.functional.normalize(w_write.double(), dim=1)
    return (torch.einsum("ahd,bdh->ab", rows, cols) / w_read.shape[1]).abs()


def profile_scores(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Correlation ``(A, B)`` of per-index profiles ``a`` ``(A, m)`` and ``b`` ``(B, m)``."""
    a = a.double() - a.double().mean(1, keepdim=True)
    b = b.double() - b.double().mean(1, keepdim=True)
    return torch.nn.functional.normalize(a, dim=1) @ torch.nn.functional.normalize(b, dim=1).T


def unit_norms(w: torch.Tensor, axis: int) -> torch.Tensor:
    """Per-index norms ``(P, m)`` of stacked weights ``w`` ``(P, ...)`` along weight axis ``axis``."""
    w = w.movedim(axis + 1, 1)
    return w.reshape(w.shape[0], w.shape[1], -1).norm(dim=2)


def _z(s: torch.Tensor) -> torch.Tensor:
    return (s - s.mean()) / s.std().clamp_min(1e-12)


NULL_DRAWS = 8


def sharpness(z: np.ndarray, rows: np.ndarray) -> float:
    """Mean score of the optimal assignment of ``rows`` (indices into ``z``'s rows) to columns."""
    r, c = linear_sum_assignment(z[rows], maximize=True)
    return float(z[rows[r], c].mean())


def signal_weight(z: np.ndarray, rows: np.ndarray) -> float:
    """How far ``z``'s optimal assignment stands above that of ``z`` shuffled (0 where it does not)."""
    rng = np.random.default_rng(0)
    null = np.mean([sharpness(rng.permutation(z.flatten()).reshape(z.shape), rows) for _ in range(NULL_DRAWS)])
    return max(0.0, sharpness(z, rows) - float(null))


def unit_scores(w_read: torch.Tensor, w_write: torch.Tensor, per_write: int = 1) -> torch.Tensor:
    """``units`` score ``(A, B)`` (see the module docstring); ``per_write`` read pieces go to each write piece."""
    signals = [_z(profile_scores(unit_norms(w_read, 0), unit_norms(w_write, 1))), _z(cosine_scores(w_read, w_write))]
    rows = np.repeat(np.arange(w_write.shape[0]), per_write)
    weights = [signal_weight(s.numpy().T, rows) for s in signals]
    if not any(weights):
        weights = [1.0] * len(signals)
    return sum(w * s for w, s in zip(weights, signals))


SCORES = {"ddr": ddr_scores, "cosine": cosine_scores, "units": unit_scores}


@dataclass(frozen=True)
class Grouping:
    """Blocks as piece ids in slot order (sorted by anchor piece), and how confident each is.

    ``confidence[k]`` is the score of block ``k``'s weakest read-write assignment; ``gap`` is the
    lowest assigned score minus the highest unassigned one (positive: the scores separate cleanly);
    ``margin[k]`` is, for block ``k``'s weakest assignment, its score minus the best score any of
    its pieces has with another piece (positive: the pair is each other's first choice).
    """

    blocks: tuple[tuple[int, ...], ...]
    confidence: np.ndarray
    gap: float
    margin: np.ndarray

    @property
    def doubtful(self) -> int:
        """Blocks whose pairing the scores leave in doubt (margin not positive)."""
        return int((self.margin <= 0).sum())


def _roles(puzzle: Puzzle) -> tuple[str, list[str], list[str]]:
    slots = puzzle.family.slots
    writes = [s.name for s in slots if s.role == "write"]
    reads = [s.name for s in slots if s.role == "read"]
    if len(writes) != 1 or not reads or any(s.role not in ("read", "write", "scale") for s in slots):
        raise UnsupportedPuzzle(
            f"grouping by weight scores needs blocks of read pieces and one write piece; "
            f"{puzzle.family.name!r} has {[f'{s.name}:{s.role}' for s in slots]}"
        )
    if puzzle.layout.pools[writes[0]] in {puzzle.layout.pools[r] for r in reads}:
        raise UnsupportedPuzzle(
            f"{puzzle.family.name!r} blocks here are square (h == d): shapes do not separate "
            "read from write pieces, which weight scores need"
        )
    return writes[0], reads, [s.name for s in slots if s.role == "scale"]


def check_groupable(puzzle: Puzzle) -> None:
    """Raise :class:`UnsupportedPuzzle` where weight scores cannot group ``puzzle``'s pieces.

    Parameters
    ----------
    puzzle
        The puzzle whose family and layout are checked.
    """
    _roles(puzzle)


def _scale_scores(puzzle: Puzzle, gains: tuple[int, ...], reads: dict[str, list[int]]) -> np.ndarray:
    """``(blocks, gains)``: correlation of each gain with the column norms of each block's read pieces."""
    P, slots = puzzle.pieces, {s.name: s for s in puzzle.family.slots}
    g = torch.stack([P[i].weight for i in gains])
    total = torch.zeros(len(next(iter(reads.values()))), len(gains), dtype=torch.float64)
    for name, ids in reads.items():
        axis = slots[name].shape.index("d")
        total += _z(profile_scores(unit_norms(torch.stack([P[i].weight for i in ids]), axis), g))
    return total.numpy()


def group_pieces(puzzle: Puzzle, method: str = "ddr") -> Grouping:
    """Group every piece into blocks by score ``method`` + Hungarian (see the module docstring)."""
    layout, P = puzzle.layout, puzzle.pieces
    write, reads, scales = _roles(puzzle)
    writers = layout.pools[write]
    w_write = torch.stack([P[i].weight for i in writers])
    chosen: dict[str, list[int]] = {write: list(writers)}
    floor, margin = np.full(len(writers), np.inf), np.full(len(writers), np.inf)
    assigned_min, unassigned_max = np.inf, -np.inf
    for pool in dict.fromkeys(layout.pools[r] for r in reads):  # read slots sharing a pool are matched together
        names = [r for r in reads if layout.pools[r] == pool]
        stacked = torch.stack([P[i].weight for i in pool])
        raw = unit_scores(stacked, w_write, len(names)) if method == "units" else SCORES[method](stacked, w_write)
        scores = raw.numpy().T  # (writers, pool)
        rows = np.repeat(np.arange(len(writers)), len(names))
        r, c = linear_sum_assignment(scores[rows], maximize=True)
        mask = np.zeros_like(scores, dtype=bool)
        mask[rows[r], c] = True
        assigned_min = min(assigned_min, float(scores[mask].min()))
        unassigned_max = max(unassigned_max, float(scores[~mask].max()) if (~mask).any() else -np.inf)
        for k in range(len(writers)):
            cols = sorted(c[rows[r] == k], key=lambda j: -scores[k, j])  # stronger score first
            floor[k] = min(floor[k], scores[k, cols].min())
            for j in cols:
                rivals = np.concatenate([np.delete(scores[k], c[rows[r] == k]), np.delete(scores[:, j], k)])
                margin[k] = min(margin[k], scores[k, j] - (rivals.max() if rivals.size else -np.inf))
            for name, j in zip(names, cols):
                chosen.setdefault(name, [0] * len(writers))[k] = pool[j]
    for name in scales:
        gains = layout.pools[name]
        if method == "units":
            _, cols = linear_sum_assignment(_scale_scores(puzzle, gains, {r: chosen[r] for r in reads}), maximize=True)
            chosen[name] = [gains[j] for j in cols]
        else:  # no weight signal: placed in id order, left to search
            chosen[name] = list(gains)
    anchor = puzzle.family.anchor
    order = np.argsort(chosen[anchor], kind="stable")
    blocks = tuple(tuple(chosen[s][k] for s in layout.block_slots) for k in order)
    gap = assigned_min - unassigned_max if np.isfinite(unassigned_max) else float("nan")
    return Grouping(blocks, floor[order], gap, margin[order])


def unplaced_exchanges(puzzle: Puzzle) -> list[tuple[int, int]]:
    """Slot pairs ``(s, t)`` (as columns) whose pieces weight scores cannot place with certainty and
    data must: norm gains (between blocks), and read slots that share a pool (between and within blocks)."""
    slots: list[Slot] = list(puzzle.family.slots)
    pools = puzzle.layout.pools
    pairs = [(i, i) for i, s in enumerate(slots) if s.role == "scale"]
    for i, s in enumerate(slots):
        for j in range(i, len(slots)):
            t = slots[j]
            if (
                s.role == t.role == "read"
                and pools[s.name] == pools[t.name]
                and any(pools[u.name] == pools[s.name] for k, u in enumerate(slots) if k != i)
            ):
                pairs.append((i, j))
    return pairs
