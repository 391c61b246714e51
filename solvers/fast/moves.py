"""Moves on arrangements (``(D, S)`` tensors, :mod:`reassembly.kernel.stack`): reorderings of
blocks (adjacent swaps, insertions, kicks) and exchanges of pieces between slots (regrouping)."""

from __future__ import annotations

import numpy as np
import torch


def insertion_order(D: int, k: int, t: int) -> list[int]:
    """Positions after moving position ``k`` to just before position ``t`` (``t == D``: the end)."""
    order = list(range(D))
    order.pop(k)
    order.insert(t if t < k else t - 1, k)
    return order


def apply_swaps(arr: torch.Tensor, positions: list[int]) -> torch.Tensor:
    """``arr`` with each adjacent pair ``(p, p + 1)`` swapped."""
    new = arr.clone()
    for p in positions:
        new[[p, p + 1]] = new[[p + 1, p]]
    return new


def apply_exchanges(arr: torch.Tensor, moves: list[tuple[int, int, int, int]]) -> torch.Tensor:
    """``arr`` with, for each ``(p, q, s, t)``, the piece in slot ``s`` of position ``p`` exchanged
    with the piece in slot ``t`` of position ``q``."""
    new = arr.clone()
    for p, q, s, t in moves:
        new[p, s], new[q, t] = arr[q, t], arr[p, s]
    return new


def disjoint_best(gains: torch.Tensor, width: int = 2) -> list[int]:
    """Indices with positive gain, greedily by gain, no two within ``width`` of each other's
    (adjacent swaps ``p`` and ``p + 1`` share a position)."""
    used: set[int] = set()
    chosen = []
    for p in torch.argsort(gains, descending=True).tolist():
        if gains[p] <= 0:
            break
        if any(p + i in used for i in range(width)):
            continue
        chosen.append(p)
        used.update(p + i for i in range(width))
    return chosen


def kick(arr: torch.Tensor, rng: np.random.Generator, moves: int, shift: int) -> torch.Tensor:
    """``moves`` random insertions, each moving one block at most ``shift`` positions."""
    D = arr.shape[0]
    idx = list(range(D))
    for _ in range(moves):
        a = int(rng.integers(D))
        b = min(max(a + int(rng.integers(-shift, shift + 1)), 0), D - 1)
        idx.insert(b, idx.pop(a))
    return arr[torch.tensor(idx)]


def neighbours(arr: torch.Tensor, max_shift: int) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """The exact neighbourhood: adjacent swaps and insertions up to ``max_shift`` positions away.

    Returns candidates ``(B, D, S)``, the first position each differs at, and each move's kind.
    """
    D = arr.shape[0]
    cands, starts, kinds = [], [], []
    for p in range(D):
        for q in range(max(0, p - max_shift), min(D, p + max_shift + 1)):
            if q == p or q == p - 1:  # p -> p-1 equals the swap (p-1, p)
                continue
            idx = list(range(D))
            idx.insert(q, idx.pop(p))
            cands.append(arr[torch.tensor(idx)])
            starts.append(min(p, q))
            kinds.append("swap" if abs(p - q) == 1 else "insert")
    return torch.stack(cands), torch.tensor(starts), kinds
