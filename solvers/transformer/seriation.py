"""Seriation: a first order of same-kind components (or norm gains) from how they treat the
residual stream's dimensions.

Every layer reads and writes the same residual basis, and trained layers change gradually with
depth: the per-dimension norms of a layer's reading columns, writing rows and norm gains are most
alike in neighbouring layers (docs/real-networks.md measures it). A component's *profile* is those
per-dimension log-norms, each standardised; the order is the shortest Hamiltonian path through
the components under ``1 - correlation`` (nearest-neighbour starts, then 2-opt). Its direction is
left open: data chooses.
"""

from __future__ import annotations

import numpy as np
import torch

from reassembly.puzzle import Puzzle


def profile(puzzle: Puzzle, slot: str, piece: int) -> torch.Tensor:
    """Standardised per-dimension log-norm profile ``(d,)`` of ``piece`` in ``slot``: a read piece's
    column norms, a write piece's row norms, a gain's magnitudes."""
    spec = next(s for s in puzzle.family.slots if s.name == slot)
    w = puzzle.pieces[piece].weight.double()
    if w.ndim == 1:
        v = w.abs()
    else:
        v = w.norm(dim=0) if spec.hidden_axis == 0 else w.norm(dim=1)
    v = v.clamp_min(1e-12).log()
    return (v - v.mean()) / v.std().clamp_min(1e-12)


def profiles(puzzle: Puzzle, members: list[dict[str, int]]) -> torch.Tensor:
    """``(n, d * slots)``: each member's profiles, concatenated in slot order."""
    return torch.stack([torch.cat([profile(puzzle, s, m[s]) for s in sorted(m)]) for m in members])


def _length(dist: np.ndarray, path: list[int]) -> float:
    return float(sum(dist[a, b] for a, b in zip(path, path[1:])))


def _two_opt(dist: np.ndarray, path: list[int]) -> list[int]:
    """Reverse segments while that shortens the open path."""
    n, better = len(path), True
    while better:
        better = False
        for i in range(n - 1):
            for j in range(i + 2, n + 1):
                # reversing path[i:j] changes the edges (i-1, i) and (j-1, j)
                before = (dist[path[i - 1], path[i]] if i > 0 else 0.0) + (dist[path[j - 1], path[j]] if j < n else 0.0)
                after = (dist[path[i - 1], path[j - 1]] if i > 0 else 0.0) + (dist[path[i], path[j]] if j < n else 0.0)
                if after < before - 1e-12:
                    path[i:j] = path[i:j][::-1]
                    better = True
    return path


def shortest_path(similarity: np.ndarray) -> list[int]:
    """An open path through all items, short under ``1 - similarity`` (nearest neighbour from every
    start, the shortest improved by 2-opt)."""
    n = len(similarity)
    if n < 3:
        return list(range(n))
    dist = 1.0 - similarity
    best: list[int] = []
    for start in range(n):
        path, left = [start], set(range(n)) - {start}
        while left:
            nxt = min(left, key=lambda j: dist[path[-1], j])
            path.append(nxt)
            left.remove(nxt)
        if not best or _length(dist, path) < _length(dist, best):
            best = path
    return _two_opt(dist, best)


def similarity(puzzle: Puzzle, members: list[dict[str, int]]) -> np.ndarray:
    """Correlation of the members' profiles."""
    p = profiles(puzzle, members)
    p = p - p.mean(1, keepdim=True)
    p = torch.nn.functional.normalize(p, dim=1)
    return (p @ p.T).numpy()


def seriate(puzzle: Puzzle, members: list[dict[str, int]]) -> list[int]:
    """Indices of ``members`` in path order (direction unknown)."""
    return shortest_path(similarity(puzzle, members))


def smoothest_path(puzzle: Puzzle, units: list[dict[str, int]], kinds: list[tuple[str, ...]]) -> list[int]:
    """Indices of ``units`` (components of several kinds linked into one per layer) in the path order
    of the kind whose path is smoothest (the highest mean similarity of neighbours along it): the
    kinds' chains are not equally clear, and a concatenated profile lets the least clear one blur
    the others.

    Parameters
    ----------
    puzzle
        The puzzle whose pieces the units name.
    units
        One dict (slot -> piece id) per layer.
    kinds
        The kinds (tuples of slots) each unit holds one component of.
    """
    best: tuple[float, list[int]] | None = None
    for kind in kinds:
        sim = similarity(puzzle, [{s: u[s] for s in kind} for u in units])
        path = shortest_path(sim)
        smooth = float(np.mean([sim[a, b] for a, b in zip(path, path[1:])])) if len(path) > 1 else 0.0
        if best is None or smooth > best[0]:
            best = (smooth, path)
    return best[1] if best else list(range(len(units)))


def bisect(puzzle: Puzzle, members: list[dict[str, int]]) -> tuple[list[int], list[int]]:
    """Two halves of ``members`` that are alike within (the sign of the Fiedler vector of their
    similarity graph, split at its median): e.g. the gains of the norms after attention and after
    the MLP, which form two chains through depth."""
    a = np.clip(similarity(puzzle, members), 0, None)
    np.fill_diagonal(a, 0)
    _, vectors = np.linalg.eigh(np.diag(a.sum(1)) - a)
    order = np.argsort(vectors[:, 1], kind="stable").tolist()
    half = len(order) // 2
    return order[:half], order[half:]
