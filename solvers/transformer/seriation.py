"""Seriation: a first order of same-kind components (or norm gains) from how they treat the
residual stream's dimensions.

Every layer reads and writes the same residual basis, and trained layers change gradually with
depth: the per-dimension norms of a layer's reading columns, writing rows and norm gains are most
alike in neighbouring layers (docs/real-networks.md measures it). A component's *profile* is those
per-dimension log-norms, each standardised; the order is the shortest Hamiltonian path through
the components under ``1 - correlation`` (nearest-neighbour starts, then 2-opt). Its direction is
left open: data chooses.

A component whose pieces only read (attention's Q/K) is better described by its *circuit
matrix*: ``Σ_units a_u b_uᵀ`` over the hidden units its two pieces share (per head, key-value
heads repeated for the query heads they serve), the bilinear form ``W_qᵀ W_k`` that scores a
query against a key. It does not depend on how the units are numbered, and it describes what the
layer computes rather than how large its weights are (:func:`circuit_similarity`).
"""

from __future__ import annotations

import numpy as np
import torch

from reassembly.puzzle import Puzzle
from solvers.transformer.circuits import unit_vectors


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


def circuit_similarity(puzzle: Puzzle, members: list[dict[str, int]], symmetric: bool = False) -> np.ndarray | None:
    """Cosine similarity of the members' circuit matrices, or ``None`` where no circuit of the
    family joins two of their slots.

    A member's circuit matrix is, summed over the family's circuits within its slots,
    ``Σ_h A_hᵀ B_h`` (``A_h``, ``B_h``: the unit vectors of head ``h`` of the circuit's two pieces,
    rows normalised, the piece with fewer heads repeated); each is flattened and scaled to unit
    norm, the mean over ``members`` removed (what every layer shares) and scaled again.

    Parameters
    ----------
    puzzle
        The puzzle whose pieces the members name.
    members
        Components of one kind (slot -> piece id).
    symmetric
        Use ``M + Mᵀ``: where the circuit cannot tell its two pieces apart (BERT's Q and K), the
        matrix of a component whose pair is the other way round is the transpose.
    """
    fam, slots = puzzle.family, set(members[0])
    circuits = [c for c in fam.circuits if c.a in slots and c.b in slots and c.a != c.b]
    if not circuits:
        return None
    total = 0
    for c in circuits:
        heads = max(fam.heads(c.a), fam.heads(c.b))
        a = unit_vectors(puzzle, c.a, tuple(m[c.a] for m in members), heads)
        b = unit_vectors(puzzle, c.b, tuple(m[c.b] for m in members), heads)
        total = total + torch.einsum("phkd,phke->pde", a, b)
    if symmetric:
        total = total + total.transpose(1, 2)
    f = torch.nn.functional.normalize(total.flatten(1), dim=1)
    f = torch.nn.functional.normalize(f - f.mean(0), dim=1)
    return (f @ f.T).numpy()


def seriate(puzzle: Puzzle, members: list[dict[str, int]], symmetric: bool = False) -> list[int]:
    """Indices of ``members`` in path order (direction unknown): by their circuit matrices where
    their pieces only read (:func:`circuit_similarity`), else by their profiles.

    Parameters
    ----------
    puzzle
        The puzzle whose pieces the members name.
    members
        Components of one kind, or single pieces (slot -> piece id).
    symmetric
        As for :func:`circuit_similarity`.
    """
    roles = {s.name: s.role for s in puzzle.family.slots}
    sim = None
    if all(roles[s] == "read" for s in members[0]):
        sim = circuit_similarity(puzzle, members, symmetric)
    return shortest_path(similarity(puzzle, members) if sim is None else sim)


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
