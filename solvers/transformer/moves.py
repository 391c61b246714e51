"""Moves on arrangements of transformer layers (``(D, S)`` tensors of pool rows, as in
:mod:`reassembly.kernel.stack`): whole blocks reordered, components of one kind exchanged between
blocks, single pieces of a shared pool (norm gains) exchanged, and unsure pairs turned round.

Moves are generated per position ``p``: every move whose first changed position is ``p`` (its
partner within ``window`` positions after it), in groups that a sweep tries one after another.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment


@dataclass(frozen=True)
class Groups:
    """Column groups of an arrangement: ``kinds`` (the slots of one component kind, exchanged
    together), ``singles`` (slots of one pool whose pieces are placed one by one), ``flips``
    (column pairs of a component whose two pieces may be the other way round) and ``sublayers``
    (a norm's slot with the components it feeds, or that feed it: exchanged together) and
    ``chain`` (the columns of the kinds the start places by their weights along one path: linked
    into one unit per layer by what they write, and Q/K run along them where their orientation is
    sure; turned round together, and held while the rest settle)."""

    kinds: tuple[tuple[int, ...], ...]
    singles: tuple[tuple[int, ...], ...]
    flips: tuple[tuple[int, int], ...]
    sublayers: tuple[tuple[int, ...], ...] = ()
    chain: tuple[int, ...] = ()

    def parts(self, sublayers: bool = False) -> list[Groups]:
        """One group of columns at a time: each kind (with its unsure pairs), then each pool of
        single pieces, and with ``sublayers`` each sublayer's columns exchanged together: the
        neighbourhoods of a coordinate sweep."""
        out = [Groups((k,), (), tuple(f for f in self.flips if set(f) <= set(k))) for k in self.kinds]
        out += [Groups((), (pool,), ()) for pool in self.singles]
        return out + [Groups((sub,), (), ()) for sub in self.sublayers] if sublayers else out


def sublayers(
    kinds: tuple[tuple[int, ...], ...], singles: tuple[tuple[int, ...], ...], width: int
) -> tuple[tuple[int, ...], ...]:
    """The sublayers of a layer's ``width`` slots: each maximal run of component columns with the
    norm slot just before it (a pre-norm layer: the slots start with a norm) or just after it
    (post-norm), where that norm slot belongs to ``singles``."""
    norms = {c for pool in singles for c in pool}
    owner = {c: i for i, k in enumerate(kinds) for c in k}
    runs, run = [], []
    for c in range(width):
        if c in owner:
            run.append(c)
        elif run:
            runs.append(run)
            run = []
    if run:
        runs.append(run)
    pre = 0 in norms
    out = []
    for run in runs:
        norm = run[0] - 1 if pre else run[-1] + 1
        if norm in norms:
            out.append(tuple(sorted((*run, norm))))
    return tuple(out)


def exchanged(arr: torch.Tensor, p: int, q: int, cols: list[int] | slice) -> torch.Tensor:
    """``arr`` with the columns ``cols`` of positions ``p`` and ``q`` exchanged (a copy).

    Parameters
    ----------
    arr
        The arrangement.
    p, q
        The two positions.
    cols
        The columns that move.
    """
    new = arr.clone()
    new[p, cols], new[q, cols] = arr[q, cols], arr[p, cols]
    return new


def carried_moves(arr: torch.Tensor, groups: Groups, p: int, reach: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B, D, S)`` *carried* moves whose first changed position is ``p``, and their first
    positions: the whole layer, and each sublayer with its norm gain, of ``p`` and of each position
    up to ``reach`` after it exchanged (each gain moves with the components it feeds).

    Parameters
    ----------
    arr
        The arrangement.
    groups
        Its column groups (``groups.sublayers``).
    p
        The first position.
    reach
        How many positions after ``p`` an exchange reaches.
    """
    units = [list(range(arr.shape[1]))] + [list(sub) for sub in groups.sublayers]
    later = range(p + 1, min(p + reach, arr.shape[0] - 1) + 1)
    out = [exchanged(arr, p, q, cols) for q in later for cols in units]
    if not out:
        return torch.empty(0, *arr.shape, dtype=arr.dtype), torch.empty(0, dtype=torch.long)
    return torch.stack(out), torch.full((len(out),), p)


def _rotations(arr: torch.Tensor, p: int, later: range, cols: list[int] | slice) -> list[torch.Tensor]:
    """``arr`` with columns ``cols`` of position ``p`` moved to each later position ``q`` (those
    between shift one place towards ``p``) and of each ``q`` moved to ``p`` (shifting the others
    back), for every ``q`` of ``later`` more than one place away (one place is an exchange)."""
    far = [q for q in later if q > p + 1]
    orders = [list(range(p + 1, q + 1)) + [p] for q in far] + [[q, *range(p, q)] for q in far]
    out = []
    for order in orders:
        new = arr.clone()
        new[p : p + len(order), cols] = arr[order][:, cols]
        out.append(new)
    return out


def window_permutations(arr: torch.Tensor, groups: Groups, p: int, width: int) -> torch.Tensor:
    """``(B, D, S)``: ``arr`` with the components of positions ``p .. p + width - 1`` permuted
    within them, one kind by one permutation and the other kinds together by another (or all by
    one), for every kind and every pair of permutations; the identity left out.

    Why two permutations: at the ends of a deep network's chain the start can get both the order of
    the linked layers and one kind's placement along them wrong at once (held-out 24-layer SmolLM2:
    the last two layers' V/O and MLPs exchanged and the last four Q/K reversed), and no move of one
    kind, nor any rotation, then lowers the loss on its own.

    Parameters
    ----------
    arr
        The arrangement ``(D, S)``.
    groups
        Its column groups (``kinds``: the components' columns).
    p
        The window's first position.
    width
        The window's length (cut at the last position).
    """
    width = min(width, arr.shape[0] - p)
    kinds = [list(k) for k in groups.kinds]
    perms = [torch.tensor(q) + p for q in itertools.permutations(range(width))]
    rest = [(k, [c for other in kinds if other is not k for c in other]) for k in kinds] if len(kinds) > 1 else []
    seen, out = {tuple(arr.flatten().tolist())}, []
    for one, others in rest + [(sum(kinds, []), [])]:
        for a in perms:
            for b in perms if others else perms[:1]:
                new = arr.clone()
                new[p : p + width, one] = arr[a][:, one]
                if others:
                    new[p : p + width, others] = arr[b][:, others]
                key = tuple(new.flatten().tolist())
                if key not in seen:
                    seen.add(key)
                    out.append(new)
    return torch.stack(out) if out else arr.new_empty((0, *arr.shape))


def moves_at(
    arr: torch.Tensor,
    groups: Groups,
    p: int,
    window: int,
    rotate: bool = False,
    sublayer: bool = False,
    blocks: bool = True,
) -> list[tuple[str, torch.Tensor]]:
    """The moves that first change position ``p``, by group: ``(label, candidates (B, D, S))``, in
    the order a sweep tries them (components, single pieces slot by slot, flips, whole blocks).

    Parameters
    ----------
    arr
        The arrangement ``(D, S)``.
    groups
        Its column groups.
    p
        The first position the moves change.
    window
        How many positions after ``p`` a move reaches.
    sublayer
        Only exchanges of whole sublayers (a norm gain with its components): the largest
        neighbourhood, tried where the rotations change nothing either.
    rotate
        The larger neighbourhood: rotate the components of one or more kinds (every non-empty set of kinds) through
        positions ``p..q``: moved ``q - p`` places, those between shifted by one (the whole-block
        moves do the same with every column). A wrong linking that is a cycle of three or more
        layers is one such move, and no exchange of two lowers its loss.
    blocks
        Include the moves of whole blocks (every column).
    """
    later = range(p + 1, min(arr.shape[0], p + window + 1))
    if sublayer:
        out = [("sublayer", [exchanged(arr, p, q, list(cols)) for q in later]) for cols in groups.sublayers]
    else:
        out = _ordinary(arr, groups, p, window, later, rotate)
        if not blocks:
            out = [(label, cands) for label, cands in out if label != "block"]
    return [(label, torch.stack(cands)) for label, cands in out if cands]


def _ordinary(
    arr: torch.Tensor, groups: Groups, p: int, window: int, later: range, rotate: bool
) -> list[tuple[str, list[torch.Tensor]]]:
    """The ordinary neighbourhood of :func:`moves_at` (with the rotations where ``rotate``)."""
    D = arr.shape[0]
    out: list[tuple[str, list[torch.Tensor]]] = []
    for cols in groups.kinds:
        out.append(("kind", [exchanged(arr, p, q, list(cols)) for q in later]))
    for cols in groups.singles:
        for s in cols:
            cands = []
            for q in range(p, min(D, p + window + 1)):
                for t in cols:
                    if (q, t) > (p, s) and not (q == p and t < s):
                        cand = arr.clone()
                        cand[p, s], cand[q, t] = arr[q, t], arr[p, s]
                        cands.append(cand)
            out.append(("single", cands))
    for s, t in groups.flips:
        cand = arr.clone()
        cand[p, s], cand[p, t] = arr[p, t], arr[p, s]
        out.append(("flip", [cand]))
    if rotate:
        for kinds in range(1, 2 ** len(groups.kinds)):
            cols = [c for k, kind in enumerate(groups.kinds) if kinds >> k & 1 for c in kind]
            out.append(("rotate", _rotations(arr, p, later, cols)))
    out.append(("block", [exchanged(arr, p, q, slice(None)) for q in later] + _rotations(arr, p, later, slice(None))))
    return out


def kick(arr: torch.Tensor, groups: Groups, rng: np.random.Generator, moves: int, window: int) -> torch.Tensor:
    """``moves`` random moves (a perturbation for iterated local search)."""
    D = arr.shape[0]
    for _ in range(moves):
        p = int(rng.integers(D - 1))
        choices = [c for _, cands in moves_at(arr, groups, p, window) for c in cands]
        arr = choices[int(rng.integers(len(choices)))]
    return arr


def substitutions(arr: torch.Tensor, cells: list[list[tuple[int, int]]], window: int) -> tuple[torch.Tensor, list]:
    """Candidates that put one cell's pieces in another cell's place (the piece stays where it
    was too: a substitution, not an exchange), for every ordered pair of cells at most ``window``
    positions apart.

    Parameters
    ----------
    arr
        The arrangement ``(D, S)``.
    cells
        Places of one kind: each a list of ``(position, column)`` entries filled together (a
        component's columns at one position, or one single piece's place).
    window
        How far apart (in positions) a substitution's two cells may be.

    Returns
    -------
    The candidates ``(B, D, S)`` and, for each, ``(target cell, source cell)``.
    """
    pairs = [
        (i, j)
        for i, target in enumerate(cells)
        for j, source in enumerate(cells)
        if i != j and abs(target[0][0] - source[0][0]) <= window
    ]
    cands = [permuted(arr, cells, {i: j}) for i, j in pairs]
    return (torch.stack(cands) if cands else arr.new_empty(0, *arr.shape)), pairs


def cycles(assignment: list[int]) -> list[list[int]]:
    """The cycles (of length two or more) of a permutation ``assignment`` (cell ``i`` takes the
    piece of cell ``assignment[i]``)."""
    seen, out = set(), []
    for start in range(len(assignment)):
        cycle, i = [], start
        while i not in seen:
            seen.add(i)
            cycle.append(i)
            i = assignment[i]
        if len(cycle) > 1:
            out.append(cycle)
    return out


def preferred_cycles(size: int, pairs: list[tuple[int, int]], losses: list[float], kept: float) -> list[dict[int, int]]:
    """The cycles of the assignment of ``size`` cells that single substitutions prefer: the
    Hungarian algorithm on the substitution ``losses`` (cell ``i`` given cell ``j``'s pieces,
    for each pair of ``pairs``; ``kept`` where a cell keeps its own; pairs not given are not
    allowed), each cycle as target cell to source cell (:func:`permuted` applies one).

    Parameters
    ----------
    size
        Cells.
    pairs
        ``(target, source)`` of each substitution (:func:`substitutions`).
    losses
        Each substitution's loss.
    kept
        The loss of the arrangement as it is.
    """
    cost = np.full((size, size), np.inf)
    np.fill_diagonal(cost, kept)
    for (i, j), value in zip(pairs, losses):
        cost[i, j] = value
    chosen = [int(j) for j in linear_sum_assignment(cost)[1]]
    return [{i: chosen[i] for i in cycle} for cycle in cycles(chosen)]


def permuted(arr: torch.Tensor, cells: list[list[tuple[int, int]]], assignment: dict[int, int]) -> torch.Tensor:
    """``arr`` with each cell ``i`` of ``assignment`` given the pieces of cell ``assignment[i]``.

    Parameters
    ----------
    arr
        The arrangement ``(D, S)``.
    cells
        As for :func:`substitutions`.
    assignment
        Target cell to source cell (a permutation of the cells it names).
    """
    new = arr.clone()
    for i, j in assignment.items():
        for (p, c), (q, t) in zip(cells[i], cells[j]):
            new[p, c] = arr[q, t]
    return new


def cells_of(groups: Groups, depth: int) -> list[tuple[str, list[list[tuple[int, int]]]]]:
    """The places of each kind (a component's columns at each position) and of each pool of single
    pieces (each place of one piece), the cells :func:`substitutions` fills.

    Parameters
    ----------
    groups
        The column groups.
    depth
        Positions.
    """
    out = [("kind", [[(p, c) for c in cols] for p in range(depth)]) for cols in groups.kinds]
    return out + [("single", [[(p, c)] for p in range(depth) for c in cols]) for cols in groups.singles]
