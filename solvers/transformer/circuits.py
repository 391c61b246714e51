"""Grouping by circuits: pieces whose hidden units are the same units (Q and K of one head, V and O,
an MLP's input and output projections, a gate and its up projection) pair up unit by unit.

For each circuit of the family (:class:`~reassembly.families.base.Circuit`) every candidate pair
of pieces is scored per attention head from its unit vectors (a read piece's rows, a write piece's
columns; key-value heads repeated for the query heads they serve), and each score is z-scored
against all candidate pairs of the same circuit (median and MAD: the null of unrelated pieces).
Pairs are then taken greedily, strongest first, each piece in one role and each component with at
most one piece per slot, at most one pair per block for each circuit. Circuits whose two slots
share a pool and a shape of units (BERT's Q and K) cannot say which piece is which: such
components are marked, and data decides their orientation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from scipy.optimize import linear_sum_assignment

from reassembly.families.base import Circuit
from reassembly.puzzle import Puzzle


def unit_vectors(puzzle: Puzzle, slot: str, ids: tuple[int, ...], heads: int) -> torch.Tensor:
    """``(P, heads, units per head, d)``: unit vectors (normalised) of pieces ``ids`` in ``slot``,
    repeated to ``heads`` groups where the slot has fewer (grouped-query attention)."""
    spec = next(s for s in puzzle.family.slots if s.name == slot)
    w = torch.stack([puzzle.pieces[i].weight for i in ids]).double()
    w = w if spec.hidden_axis == 0 else w.transpose(1, 2)
    own = puzzle.family.heads(slot)
    w = torch.nn.functional.normalize(w, dim=2).reshape(len(ids), own, -1, w.shape[2])
    return w.repeat_interleave(heads // own, dim=1)


def circuit_scores(puzzle: Puzzle, circuit: Circuit) -> torch.Tensor:
    """Scores ``(A, B)`` of every piece of ``circuit.a``'s pool as ``a`` with every piece of
    ``circuit.b``'s pool as ``b`` (see the module docstring); the diagonal of a shared pool is -inf."""
    pools, fam = puzzle.layout.pools, puzzle.family
    heads = max(fam.heads(circuit.a), fam.heads(circuit.b))
    a = unit_vectors(puzzle, circuit.a, pools[circuit.a], heads)
    b = unit_vectors(puzzle, circuit.b, pools[circuit.b], heads)
    cos = torch.einsum("phkd,rhkd->prhk", a, b)
    s = cos.mean(3).abs().mean(2) if circuit.kind == "cosine" else cos.pow(2).mean((2, 3))
    if pools[circuit.a] == pools[circuit.b]:
        s.fill_diagonal_(float("-inf"))
    return s


def zscores(s: torch.Tensor) -> torch.Tensor:
    """``s`` against its own finite entries' median and MAD."""
    vals = s[torch.isfinite(s)]
    med = vals.median()
    mad = (vals - med).abs().median().clamp_min(1e-12) * 1.4826
    return (s - med) / mad


def symmetric(puzzle: Puzzle, circuit: Circuit) -> bool:
    """Whether the circuit's score cannot tell its two slots apart (same pool, same unit layout)."""
    slots = {s.name: s for s in puzzle.family.slots}
    a, b = slots[circuit.a], slots[circuit.b]
    fam, pools = puzzle.family, puzzle.layout.pools
    return pools[a.name] == pools[b.name] and a.hidden_axis == b.hidden_axis and fam.heads(a.name) == fam.heads(b.name)


@dataclass
class Components:
    """Pieces grouped by circuits: each component maps slots to piece ids; ``unsure`` lists, per
    component, slot pairs whose pieces may be the other way round; ``strength`` is the weakest
    z-score that joined it."""

    members: list[dict[str, int]] = field(default_factory=list)
    unsure: list[list[tuple[str, str]]] = field(default_factory=list)
    strength: list[float] = field(default_factory=list)

    def kind(self, k: int) -> tuple[str, ...]:
        return tuple(sorted(self.members[k]))


def _as_role(members: dict[str, int], unsure: list[tuple[str, str]], piece: int, role: str, confirm: bool) -> bool:
    """Whether ``piece`` holds ``role`` in ``members``, turning an unsure pair round where that makes
    it so; with ``confirm`` (an asymmetric circuit says so) the pair is then no longer unsure."""
    if members.get(role) == piece:
        if confirm:
            unsure[:] = [pair for pair in unsure if role not in pair]
        return True
    for pair in unsure:
        if role in pair and piece in (members.get(pair[0]), members.get(pair[1])):
            a, b = pair
            members[a], members[b] = members[b], members[a]
            unsure.remove(pair)
            return True
    return False


def match_circuits(puzzle: Puzzle) -> Components:
    """Greedy matching of all circuits' candidate pairs, then each slot's pieces re-assigned to the
    components by the sum of their circuits' z-scores (see the module docstring)."""
    zs = {c: zscores(circuit_scores(puzzle, c)) for c in puzzle.family.circuits}
    comps = _greedy(puzzle, zs)
    _reassign(puzzle, comps, zs)
    return comps


def _reassign(puzzle: Puzzle, comps: Components, zs: dict[Circuit, torch.Tensor]) -> None:
    """For each slot held by every block's component of its kind: Hungarian assignment of those
    pieces to those components by the summed z-scores of all circuits with the others' slots."""
    pools, D = puzzle.layout.pools, puzzle.depth
    row = {s: {pid: r for r, pid in enumerate(ids)} for s, ids in pools.items()}
    for slot in dict.fromkeys(x for c in zs for x in (c.a, c.b)):
        holders = [k for k, m in enumerate(comps.members) if slot in m]
        if len(holders) != D:
            continue
        pieces = [comps.members[k][slot] for k in holders]
        score = torch.zeros(D, D, dtype=torch.float64)
        for c, z in zs.items():
            if slot not in (c.a, c.b) or c.a == c.b:
                continue
            other = c.b if slot == c.a else c.a
            for j, k in enumerate(holders):
                partner = comps.members[k].get(other)
                if partner is None:
                    continue
                for i, pid in enumerate(pieces):
                    a, b = (pid, partner) if slot == c.a else (partner, pid)
                    if a != b:
                        score[i, j] += float(z[row[c.a][a], row[c.b][b]])
        r, cols = linear_sum_assignment(score.numpy(), maximize=True)
        for i, j in zip(r, cols):
            comps.members[holders[j]][slot] = pieces[i]


def _greedy(puzzle: Puzzle, zs: dict[Circuit, torch.Tensor]) -> Components:
    fam, pools, D = puzzle.family, puzzle.layout.pools, puzzle.depth
    edges = []
    for c, z in zs.items():
        sym = symmetric(puzzle, c)
        for i, j in torch.nonzero(torch.isfinite(z)).tolist():  # both orientations of a symmetric circuit
            edges.append((float(z[i, j]), c, pools[c.a][i], pools[c.b][j], sym))
    edges.sort(key=lambda e: -e[0])
    comps = Components()
    where: dict[int, int] = {}  # piece -> component
    used = {c: 0 for c in fam.circuits}
    roles = {s.name: 0 for s in fam.slots}  # pieces holding each slot so far (at most one per block)
    for z, c, p, q, sym in edges:
        cp, cq = where.get(p), where.get(q)
        if used[c] >= D or (cp is None and roles[c.a] >= D) or (cq is None and roles[c.b] >= D):
            continue
        if cp is not None and cp == cq:
            continue
        mp, up = (dict(comps.members[cp]), list(comps.unsure[cp])) if cp is not None else ({c.a: p}, [])
        mq, uq = (dict(comps.members[cq]), list(comps.unsure[cq])) if cq is not None else ({c.b: q}, [])
        if not (_as_role(mp, up, p, c.a, not sym) and _as_role(mq, uq, q, c.b, not sym)) or set(mp) & set(mq):
            continue
        used[c] += 1
        roles[c.a] += cp is None
        roles[c.b] += cq is None
        merged = {**mp, **mq}
        unsure = up + uq + ([(c.a, c.b)] if sym and cp is None and cq is None else [])
        strength = min([z] + [comps.strength[k] for k in (cp, cq) if k is not None])
        for k in sorted({k for k in (cp, cq) if k is not None}, reverse=True):
            del comps.members[k], comps.unsure[k], comps.strength[k]
        comps.members.append(merged)
        comps.unsure.append(unsure)
        comps.strength.append(strength)
        where = {pid: k for k, m in enumerate(comps.members) for pid in m.values()}
    return comps
