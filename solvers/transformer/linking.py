"""Linking components of different kinds into layers by what they write (weights only).

Every sublayer of a layer writes into the residual stream at the same depth, and what it writes is
read by the same later layers; training shapes the *directions* a layer writes accordingly. A
component's write Gram ``W Wᵀ`` (over the residual dimensions, summed over its write pieces) says
which directions it writes and how strongly, whatever its hidden units are (a permutation of them
leaves it unchanged). With what every component of a kind shares removed (the mean over the
kind), the write Grams of one layer's attention and MLP are most alike: the Hungarian assignment
on their cosine similarity links every MiniLM layer's V/O to its MLP and 26 of SmolLM2's 30
(`docs/real-networks.md`, "Linking by what a layer writes"). Reads link far less (Q/K and V read
the same normalised input for different purposes), so only writes are used; kinds without a write
piece (Q/K) are left to the seriation and the data.
"""

from __future__ import annotations

import torch
from scipy.optimize import linear_sum_assignment

from reassembly.puzzle import Puzzle


def _spec(puzzle: Puzzle, slot: str):
    return next(s for s in puzzle.family.slots if s.name == slot)


def write_slots(puzzle: Puzzle, kind: tuple[str, ...]) -> list[str]:
    """The slots of ``kind`` that write into the residual stream."""
    return [s for s in kind if _spec(puzzle, s).role == "write"]


def gram_features(puzzle: Puzzle, members: list[dict[str, int]], role: str = "write") -> torch.Tensor:
    """``(n, d * d)``: each member's Gram over the residual dimensions (summed over its slots of
    ``role``), scaled to unit norm, the mean over ``members`` removed, and scaled to unit norm again.

    Parameters
    ----------
    puzzle
        The puzzle whose pieces the members name.
    members
        Components of one kind (slot -> piece id), each with at least one slot of ``role``.
    role
        ``"write"``: ``W Wᵀ`` of what the member writes into the residual stream; ``"read"``:
        ``Wᵀ W`` of what it reads from it.
    """
    rows = []
    for m in members:
        gram = 0
        for s in (x for x in m if _spec(puzzle, x).role == role):
            w = puzzle.pieces[m[s]].weight.float()
            w = w if _spec(puzzle, s).hidden_axis == 1 else w.T  # (residual, hidden)
            gram = gram + w @ w.T
        rows.append(torch.nn.functional.normalize(gram.flatten(), dim=0))
    f = torch.stack(rows)
    return torch.nn.functional.normalize(f - f.mean(0), dim=1)


def write_features(puzzle: Puzzle, members: list[dict[str, int]]) -> torch.Tensor:
    """:func:`gram_features` of what the members write."""
    return gram_features(puzzle, members, "write")


def runs_along(puzzle: Puzzle, path: list[dict[str, int]], other: list[dict[str, int]]) -> bool:
    """Whether ``other`` (one component per layer, in seriation order) runs the same way as
    ``path``, judged by what they read: the summed read-Gram similarity of the components the two
    paths put at the same place, against that of ``other`` reversed.

    A layer's components read the same normalised residual stream, so their read Grams are a little
    more alike within a layer than across layers: too little to link one layer (a third of
    SmolLM2's Q/K to their V/O), but summed along two chains it says which way one runs against
    the other where the data, judged with every norm gain still misplaced, cannot.

    Parameters
    ----------
    puzzle
        The puzzle whose pieces the components name.
    path, other
        Components of two kinds, as many of each, each with a read slot.
    """
    sim = gram_features(puzzle, path, "read") @ gram_features(puzzle, other, "read").T
    return bool(torch.trace(sim) >= torch.trace(sim.flip(1)))


def link(puzzle: Puzzle, a: list[dict[str, int]], b: list[dict[str, int]]) -> list[int]:
    """For each member of ``a``, the index of the member of ``b`` of the same layer: the assignment
    with the highest total similarity of their write features (:func:`write_features`).

    Parameters
    ----------
    puzzle
        The puzzle whose pieces the members name.
    a, b
        Components of two kinds, as many of each, each with a write slot.
    """
    sim = (write_features(puzzle, a) @ write_features(puzzle, b).T).double().numpy()
    _, cols = linear_sum_assignment(sim, maximize=True)
    return [int(c) for c in cols]


def linked_units(puzzle: Puzzle, by_kind: dict[tuple[str, ...], list[dict[str, int]]]) -> list[dict[str, int]] | None:
    """The components of every writing kind merged into one unit per layer (each writing kind
    linked to the first by :func:`link`), or ``None`` where fewer than two kinds write.

    Parameters
    ----------
    puzzle
        The puzzle whose pieces the members name.
    by_kind
        Each kind's components (one per layer).
    """
    writers = [k for k in by_kind if write_slots(puzzle, k)]
    if len(writers) < 2:
        return None
    units = [dict(m) for m in by_kind[writers[0]]]
    for kind in writers[1:]:
        for unit, j in zip(units, link(puzzle, by_kind[writers[0]], by_kind[kind])):
            unit.update(by_kind[kind][j])
    return units
