"""Whole attention sublayers from the weights, and the links between them and the MLPs that the
weights are least sure of, judged by the data as whole arrangements.

Two measurements (docs/real-networks.md) shape this stage. First, the weights make each attention
sublayer whole: placed where the read similarity of each K to the V at its position (K and V read
the same normed input) plus the circuit similarity of Q/K neighbours along the positions is
highest (each z-scored over all pairs), every Q/K goes with its own layer's V/O on held-out SmolLM2
of 6 to 30 layers; each signal is wrong where the other is sure. What is then left of the start's
component errors is the link of attention to MLP by what they write, and it is wrong exactly at
its least sure pairs of neighbouring layers. Second, one wrong component stops the exact search
from placing the norm gains, while from the right components a short search moves far (held-out
18 layers: 0.28 against 1.2 and above after about 20 s). So the stage exchanges the V/O of the
``unsure`` neighbour pairs the link is least sure of, in every combination, places the Q/K with
the V/O by their weights in each, and races their searches: successive halving (Jamieson and
Talwalkar, 2016), each round an equal part of the stage's time shared by the arrangements left,
the lower half going on from where their searches stood; the winner is the solve's start. A short
search's loss also says how far its own gains search got, which is not what the race asks; the
arrangements differ only in their components, so after each round each takes the gains of
whichever searched arrangement fit it best before they are ranked (held-out 18 layers: the truth
ranks first that way from 30 s on, and second or third by its own gains).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import torch

from reassembly.kernel import Evaluator
from reassembly.params import Configurable, Interval
from reassembly.puzzle import Puzzle
from solvers.transformer.linking import gram_features, write_features
from solvers.transformer.moves import Groups
from solvers.transformer.relink import mixed_kinds
from solvers.transformer.seriation import circuit_similarity


def _pieces(slots: tuple[str, ...] | list[str], blocks: list, cols) -> list[dict[str, int]]:
    """Each block's pieces in the columns ``cols``, by slot name."""
    return [{slots[c]: b[c] for c in cols} for b in blocks]


def zscored(sim: np.ndarray) -> np.ndarray:
    """``sim`` less the mean of its off-diagonal entries, over their standard deviation."""
    off = sim[~np.eye(len(sim), dtype=bool)]
    return (sim - off.mean()) / max(float(off.std()), 1e-12)


def place_along(reads: np.ndarray, path: np.ndarray) -> list[int]:
    """The order ``at`` (``at[p]``: the item placed at position ``p``) that maximises
    ``Σ_p reads[at[p], p] + Σ_p path[at[p], at[p + 1]]``, by exchanges of two from the identity
    until none improves it.

    Parameters
    ----------
    reads
        ``(n, n)``: how well item ``i`` fits position ``p``.
    path
        ``(n, n)``: how well items ``i`` and ``j`` fit as neighbours.
    """
    n = len(reads)

    def score(at: list[int]) -> float:
        return float(sum(reads[at[p], p] for p in range(n)) + sum(path[at[p], at[p + 1]] for p in range(n - 1)))

    at, best, improved = list(range(n)), score(list(range(n))), True
    while improved:
        improved = False
        for a, b in itertools.combinations(range(n), 2):
            at[a], at[b] = at[b], at[a]
            if score(at) > best + 1e-12:
                best, improved = score(at), True
            else:
                at[a], at[b] = at[b], at[a]
    return at


class UnitHypotheses(Configurable):
    """Attention made whole by its weights, then its least sure links to the MLPs judged by the
    data (see the module docstring), where the family's relaxed layer names the attention kinds.

    Parameters
    ----------
    unsure
        How many of the least sure attention-to-MLP links (neighbour pairs) are tried both ways:
        ``2 ** unsure`` arrangements, raced by successive halving in the stage's time; 0
        turns the stage off. 2 was chosen on held-out SmolLM2 puzzles (docs/real-networks.md).
    share
        Most of the time left to the solve that the stage may use.
    share_gains
        After each round, each arrangement left takes the norm gains of whichever searched
        arrangement they fit best, where that lowers its loss (:meth:`pool_gains`), before the
        arrangements are ranked.
    """

    constraints = {"unsure": Interval(0, 8), "share": Interval(0, 1)}

    def __init__(self, unsure: int = 2, share: float = 0.25, share_gains: bool = True) -> None:
        self.unsure = unsure
        self.share = share
        self.share_gains = share_gains

    def _kinds(self, ev: Evaluator, groups: Groups) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]] | None:
        """The Q/K kind, the V/O kind and the MLP kind (columns), or ``None``."""
        roles = {s.name: s.role for s in ev.family.slots}
        writes = lambda k: any(roles[ev.stack.slots[c]] == "write" for c in k)  # noqa: E731
        attention = mixed_kinds(ev, groups)
        qk = [k for k in attention if not writes(k)]
        vo = [k for k in attention if writes(k)]
        mlp = [k for k in groups.kinds if k not in attention and writes(k)]
        return (qk[0], vo[0], mlp[0]) if len(qk) == len(vo) == len(mlp) == 1 else None

    def applies(self, ev: Evaluator, groups: Groups) -> bool:
        """Whether the stage is on and the family names one attention Q/K, V/O and MLP kind.

        Parameters
        ----------
        ev
            The search's evaluator.
        groups
            The arrangement's column groups.
        """
        return self.unsure > 0 and self._kinds(ev, groups) is not None

    def whole_attention(self, puzzle: Puzzle, ev: Evaluator, arr: torch.Tensor, groups: Groups) -> torch.Tensor:
        """``arr`` with its Q/K re-placed to go with the V/O at each position (see the module
        docstring): the Q/K kind's read slot whose shape is a V/O read slot's compared by read
        Grams, plus the Q/K path's circuit similarity.

        Parameters
        ----------
        puzzle
            The puzzle (its pieces' weights).
        ev
            The evaluator whose stack ``arr`` indexes.
        arr
            The arrangement.
        groups
            Its column groups.
        """
        qk, vo, _ = self._kinds(ev, groups)
        slots, shapes = ev.stack.slots, {s.name: s.shape for s in ev.family.slots}
        pair = next(((a, b) for a in qk for b in vo if shapes[slots[a]] == shapes[slots[b]]), None)
        if pair is None:
            return arr
        blocks = ev.stack.assembly(arr, ()).blocks
        reads = gram_features(puzzle, _pieces(slots, blocks, pair[:1]), "read")
        reads = reads @ gram_features(puzzle, _pieces(slots, blocks, pair[1:]), "read").T
        path = circuit_similarity(puzzle, _pieces(slots, blocks, qk))
        if path is None:
            return arr
        at = place_along(zscored(reads.double().numpy()), zscored(np.asarray(path, dtype=float)))
        new = arr.clone()
        new[:, list(qk)] = arr[at][:, list(qk)]
        return new

    def margins(self, puzzle: Puzzle, ev: Evaluator, arr: torch.Tensor, groups: Groups) -> list[float]:
        """For each neighbour pair of positions, how much the write link prefers ``arr``'s pairing of
        attention with MLP over the two attention sublayers exchanged (small: unsure).

        Parameters
        ----------
        puzzle
            The puzzle (its pieces' weights).
        ev
            The evaluator whose stack ``arr`` indexes.
        arr
            The arrangement.
        groups
            Its column groups.
        """
        _, vo, mlp = self._kinds(ev, groups)
        slots, blocks = ev.stack.slots, ev.stack.assembly(arr, ()).blocks
        feats = [write_features(puzzle, _pieces(slots, blocks, kind)) for kind in (vo, mlp)]
        sim = (feats[0] @ feats[1].T).double()
        return [float(sim[p, p] + sim[p + 1, p + 1] - sim[p, p + 1] - sim[p + 1, p]) for p in range(len(blocks) - 1)]

    def arrangements(
        self, puzzle: Puzzle, ev: Evaluator, arr: torch.Tensor, groups: Groups
    ) -> tuple[list[int], list[float], list[torch.Tensor]]:
        """The ``unsure`` least sure neighbour pairs (not overlapping; ``p``: positions ``p`` and
        ``p + 1``), every pair's link margin, and the ``2 ** unsure`` arrangements: each
        combination of those pairs' V/O exchanged (the first: none), Q/K placed with the V/O.

        Parameters
        ----------
        puzzle
            The puzzle (its pieces' weights).
        ev
            The evaluator whose stack ``arr`` indexes.
        arr
            The start.
        groups
            Its column groups.
        """
        _, vo, _ = self._kinds(ev, groups)
        margins = self.margins(puzzle, ev, arr, groups)
        pairs: list[int] = []
        for p in np.argsort(margins):  # the least sure pairs that do not overlap
            if len(pairs) < self.unsure and all(abs(int(p) - q) > 1 for q in pairs):
                pairs.append(int(p))
        cols = torch.tensor(vo)
        tries = []
        for chosen in itertools.product((False, True), repeat=len(pairs)):
            trial = arr.clone()
            for p in (p for p, flip in zip(pairs, chosen) if flip):
                trial[p, cols], trial[p + 1, cols] = arr[p + 1, cols], arr[p, cols]
            tries.append(self.whole_attention(puzzle, ev, trial, groups))
        return pairs, margins, tries

    @staticmethod
    def pool_gains(ev: Evaluator, ends: list[tuple[torch.Tensor, float]], alive: list[int], groups: Groups) -> int:
        """Give each arrangement in ``alive`` the single pieces (the norm gains) of whichever
        searched arrangement they fit best, where that lowers its loss (in place); how many took
        another's. The arrangements differ only in their components, so each search's placement of
        the gains is a hypothesis for all of them: judging each by the best gains any search found
        removes the part of a short search's loss that only says how far its own gains search got.

        Parameters
        ----------
        ev
            Evaluates on the search's rows.
        ends
            Each arrangement's arrangement and loss (``inf``: not searched yet).
        alive
            The arrangements given the others' gains.
        groups
            The column groups (``singles``: the columns of the gains).
        """
        cols = [c for pool in groups.singles for c in pool]
        donors = [a for a, loss in ends if loss < float("inf")]
        if not cols or len(donors) < 2:
            return 0
        taken = 0
        for i in alive:
            trials = torch.stack([ends[i][0] for _ in donors])
            trials[:, :, cols] = torch.stack(donors)[:, :, cols]
            losses = ev.run(trials)
            j = int(torch.argmin(losses))
            if float(losses[j]) < ends[i][1]:
                ends[i], taken = (trials[j], float(losses[j])), taken + 1
        return taken

    def run(
        self,
        puzzle: Puzzle,
        ev: Evaluator,
        arr: torch.Tensor,
        groups: Groups,
        search: Callable[[torch.Tensor, float], tuple[torch.Tensor, float]],
        deadline: float,
        floor: float = 0.0,
        clock: Callable[[], float] | None = None,
        place: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, dict]:
        """The arrangement the best of the tried ones led to (after its share of search), and what
        the stage did.

        Parameters
        ----------
        puzzle
            The puzzle (its pieces' weights).
        ev
            Evaluates on the search's rows.
        arr
            The start.
        groups
            Its column groups.
        search
            ``search(arrangement, deadline)``: the exact search from an arrangement until
            ``deadline`` (on ``clock``), returning where it ended and its loss.
        deadline
            The solve's deadline (on ``clock``).
        floor
            The loss counted as zero: an arrangement whose search reaches it ends the stage (the
            arrangements left untried).
        clock
            The clock the deadlines are read on (``None``: the evaluator's work clock,
            :meth:`~reassembly.kernel.Evaluator.clock`).
        place
            Where given, each arrangement is ``place(arrangement)`` before its first search (the
            solver's :class:`~solvers.transformer.softassign.SoftAssign` places its norm gains);
            its time is not taken from the race's share.
        """
        clock = ev.clock if clock is None else clock
        pairs, margins, tries = self.arrangements(puzzle, ev, arr, groups)
        placed = [place(t) for t in tries] if place is not None else tries
        moved, tries = sum(not torch.equal(a, b) for a, b in zip(placed, tries)), placed
        # successive halving: each round has an equal part of the stage's time, shared by the
        # arrangements still in it; each goes on from where its search ended, and the lower half
        # (by where their searches stand) goes on to the next round
        rounds = max(1, int(np.ceil(np.log2(len(tries)))))
        per_round = self.share * max(0.0, deadline - clock()) / rounds
        ends: list[tuple[torch.Tensor, float]] = [(t, float("inf")) for t in tries]
        alive, seconds, shared = list(range(len(tries))), [], 0
        for _ in range(rounds):
            seconds.append(per_round / len(alive))
            for i in alive:
                ends[i] = search(ends[i][0], clock() + seconds[-1])
                if ends[i][1] <= floor:  # the lowest: it heads the round's order below
                    break
            if self.share_gains and min(ends[i][1] for i in alive) > floor:
                shared += self.pool_gains(ev, ends, alive, groups)
            alive = sorted(alive, key=lambda i: ends[i][1])[: max(1, len(alive) // 2)]
            if ends[alive[0]][1] <= floor:
                break
        best = alive[0]
        details = {
            "pairs": pairs,
            "margins": [margins[p] for p in pairs],
            "losses": [None if e[1] == float("inf") else e[1] for e in ends],  # None: not tried
            "chosen": best,
            "seconds_each": seconds,
            "gains_shared": shared,
            "gains_placed": moved,  # arrangements whose gains ``place`` moved before their first search
        }
        return ends[best][0], details
