"""Norm gains placed along their own similarity chains, then window permutations of them by data.

Why: at 30 layers of SmolLM2 the softassign fit does not place the gains even from every component
at its true place (held-out seed 100: 5 of 60; the attention norms alone, every other piece true:
3 of 30), and the exact loss saturates unless nearly every gain is nearly right, so an exchange
search from a poor placement does not descend either. Two weight signals, each weak alone, make a
placement whose errors are *local* (a gain a few positions from its place), and from there the
exact loss does descend:

1. **Kinds.** Neighbouring layers' gains of one norm slot are alike: each gain's nearest neighbour
   by the cosine of its centred raw values is nearly always a gain of its own slot. The pool is
   split into one half per norm slot by the spectral bisection of the symmetric graph of each
   gain's ``neighbours`` nearest (held-out SmolLM2 6–30 layers: 10/12, 22/24, 34/36, 46/48 and
   58/60 gains on the right side; MiniLM's LayerNorm gains 12/12).
2. **Order within a half** maximises the weights' links of each gain to the components at its
   position (:func:`~solvers.transformer.softassign.link_scores`) plus ``chain`` times the
   similarity of the gains it puts at neighbouring positions: the Hungarian assignment of the
   links, then the best exchanges of two gains while the score rises. Which half goes to which
   slot: the higher total of links. From the true components at 30 layers (held-out seed 100)
   this puts 20 of 60 gains in place, most of the others within a few positions (links alone:
   11, and the exact search from there stalls at loss 2.0).
3. **Data.** First-improvement exact search over the gains alone (the components held): every
   permutation of one slot's gains within ``width`` consecutive positions, exchanges of the two
   slots' gains within them, and exchanges of two gains of one slot at any distance; until no
   move lowers the loss. From the placement above at 30 layers (true components, every gain
   shuffled) the loss falls from 3.7 to 0.054 with 53 of 60 gains in place in 400 s on one thread
   (``python docs/studies/real_gains_study.py gainchains /tmp/r24/s30-100``).

4. **Components carried with their gains.** A slow pass (below, ``rate``) says the components
   the gains are fitted around are wrong. The gains a fit put there are then fitted to the
   *positions* of wrong components, so the search starts again from the weights' placement (whose
   links bind each gain to its own layer's pieces wherever they stand), and after its next slow
   pass it also exchanges, between two positions up to ``reach`` apart, whole layers and single
   sublayers (a norm gain with the components it feeds), *each gain moving with its sublayer*.
   Why: a sublayer's gain is part of its function (``x + f(rmsnorm(x) * g)``); two sublayers
   exchanged with their gains change the network only by the order of two residual updates,
   while a gain parted from its sublayer changes the update itself. Measured on held-out
   30-layer seed 100 from the race's components (four neighbouring pairs wrong), the true gains
   beside their own layers' components give loss 0.905 and the true gains at their true
   *positions* 3.19; from the former, exchanges of whole layers and sublayers repair every
   component but one Q/K pair. Component moves that leave the gains behind (the search's
   windows) break those bindings, and the gains then settle around the wrong components. The
   passes with carried moves go on while one takes such a move.

The stage starts from the better, by the exact loss, of the arrangement's own gains and this
placement, returns the best arrangement it saw, and the solver keeps it only where it lowers the
loss.

**Off by default** (``transformer[chains__steps=10000]`` turns it on). In the solver it runs
after the softassign stage (a global placement of the gains; this stage is the local repair after
it) and before the realign stage, in at most ``share`` (half) of the time left, and its search goes
on to another pass only while a pass at least halves the loss (``rate``). Where the components are right, each pass repairs most of the gains' local errors
(held-out 18 layers, seed 100, from the race's arrangement: 0.18, 0.048, 0.0055, then zero);
where they are not, the gains settle around them and the loss crawls (24 layers, seed 100: 1.40,
1.26, 1.19, 1.17, ... 1.12 in 211 s; 30 layers: 3.17, 2.28, 2.17, 2.05), and the stage gives its
time back to the realign stage, which moves components. Held-out SmolLM2, two solves at a time:
18 layers seeds 100 and 101 exact in 190.4 and 180.6 s (without the stage: 334.1 and 335.5 s,
when the realign stage's fruitless first scan ran every window); 24 layers 100 and 101 exact in
439.1 and 391.2 s (without: 360.8 and 373.0 s). But one pass costs about 70 s at 24 layers,
and the realign stage after it needs its time: on the report seeds the stage took 18 layers from
343.4 to 193.3 s (seed 1) and left seeds 0 and 2 about as they were, but 24 layers seed 1 ended at
MSE 0.481 (exact without the stage; seeds 0 and 2 exact, 50–80 s slower), so it stays off until
it can tell, before its first pass, whether the components are right. Run before the softassign
stage and without ``rate`` (every pass while any move helps), the stage took 175 s at 24 layers
and report seed 0 at 24 layers ended at MSE 0.49. At 30 layers the race leaves four neighbouring pairs of
components exchanged (seed 100), the gains settle around those (from the race's components:
loss 1.09 with 18 of 60 gains in place; the true components with those gains: 5.5), and the
windows of the components that lower the loss from there move away from the truth (22 to 21
layers whole): the windows part the gains from their sublayers. The restart from the placement
and the carried moves (step 4) put three of those four pairs right (22 to 26 layers whole, loss
3.15 to 0.49 in 500 s on two threads), and with 1,200 s the solver's output MSE on that puzzle
is 0.808 (1.74 with carried moves but no restart); in the default 480 s they get two passes and
change nothing there, and on held-out 24 layers seed 100 they took the realign stage's time
(MSE 0.0437; exact without the stage): another reason the stage stays off.

Why it should generalise: nothing in it names a network, a depth or a size. It assumes what trained
residual networks show generally: a norm slot's gain changes gradually with depth, and a gain grows
on the dimensions its sublayer reads and writes most (the links' premise); the one constant with a
weight, ``chain``, was chosen on a held-out puzzle (links alone fail there), ``reach`` (2) covers
the race's errors (neighbours) and one position more, and ``rate`` (one half)
on the passes of held-out seed 100 at 18, 24 and 30 layers above: a search near its answer
converges fast, one around a wrong structure does not, whatever the network.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from reassembly.kernel import Evaluator
from reassembly.params import Interval
from solvers.transformer.moves import Groups, carried_moves
from solvers.transformer.relink import GainsFit
from solvers.transformer.softassign import link_scores


def gain_similarity(pool: torch.Tensor) -> np.ndarray:
    """``(G, G)`` cosine similarity of the gains' raw values, each centred on its own mean, with a
    zero diagonal.

    Parameters
    ----------
    pool
        The gains ``(G, d)``.
    """
    p = pool.double()
    p = torch.nn.functional.normalize(p - p.mean(1, keepdim=True), dim=1)
    sim = (p @ p.T).numpy()
    np.fill_diagonal(sim, 0.0)
    return sim


def split_kinds(sim: np.ndarray, neighbours: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Two equal halves of the items: the spectral bisection (Fiedler vector, split at its median)
    of the symmetric graph that joins each item to its ``neighbours`` most similar.

    Parameters
    ----------
    sim
        Pairwise similarity ``(G, G)``, ``G`` even.
    neighbours
        Each item's edges.
    """
    n = len(sim)
    masked = sim.copy()
    np.fill_diagonal(masked, -np.inf)
    near = np.argsort(-masked, axis=1, kind="stable")[:, :neighbours]
    adj = np.zeros((n, n))
    adj[np.repeat(np.arange(n), near.shape[1]), near.ravel()] = 1.0
    adj = np.maximum(adj, adj.T)
    _, vectors = np.linalg.eigh(np.diag(adj.sum(1)) - adj)
    order = np.argsort(vectors[:, 1], kind="stable")
    return order[: n // 2], order[n // 2 :]


def chain_order(links: np.ndarray, sim: np.ndarray, chain: float) -> np.ndarray:
    """``perm[k]``: the item put at position ``k``, maximising ``Σ_k links[k, perm[k]] + chain ·
    Σ_k sim[perm[k], perm[k+1]]``: the Hungarian assignment of ``links``, then the best move while
    one raises the score (an exchange of two positions, or a run of positions turned round: the
    2-opt move of a path).

    Parameters
    ----------
    links
        ``(n, n)``: how well each item fits each position.
    sim
        ``(n, n)``: how alike two items are (neighbouring positions reward it).
    chain
        The weight of neighbours' similarity.
    """
    n = len(links)
    _, perm = linear_sum_assignment(links, maximize=True)
    pairs = list(itertools.combinations(range(n), 2))
    if not pairs:
        return perm
    # each move as the positions it reads: an exchange of two, or a segment turned round
    moves = []
    for i, j in pairs:
        swap = np.arange(n)
        swap[i], swap[j] = j, i
        turn = np.arange(n)
        turn[i : j + 1] = turn[i : j + 1][::-1]
        moves += [swap, turn]
    index = np.unique(np.stack(moves), axis=0)
    rows = np.arange(n)
    current = float(links[rows, perm].sum() + chain * sim[perm[:-1], perm[1:]].sum())
    while True:
        trial = perm[index]
        s = links[rows, trial].sum(1) + chain * sim[trial[:, :-1], trial[:, 1:]].sum(1)
        best = int(np.argmax(s))
        if s[best] <= current + 1e-9:
            return perm
        perm, current = trial[best], float(s[best])


class GainChains(GainsFit):
    """Norm gains placed along their similarity chains by their links, then permuted in windows by
    the exact loss (see the module docstring), where the family has a relaxed layer and one pool
    holds the gains of two norm slots.

    Parameters
    ----------
    steps
        Most moves the exact search takes; 0 (the default) turns the stage off (see the module
        docstring for why).
    chain
        The weight of neighbouring gains' similarity against their links.
    neighbours
        Each gain's edges in the graph whose bisection splits the pool into kinds.
    width
        Consecutive positions whose gains one move permutes.
    share
        The most of the solve's time left that the stage may take.
    rate
        The search makes another pass over the positions only while its last pass brought the loss
        to at most ``rate`` times the loss before it: near the answer each pass repairs most of
        the local errors left, and a slower fall says the components the gains are fitted around
        are wrong (1: on while any move lowers the loss).
    reach
        After a slow pass, the passes go on with *carried* moves as well: the whole layers, and
        each sublayer (its norm gain with the components it feeds), of two positions up to
        ``reach`` apart exchanged, each gain moving with its own sublayer; while a pass takes such
        a move (0: the stage stops at the first slow pass).
    judge
        A slow *first* pass judges the components wrong: the stage returns the arrangement it was
        given (its moves only fitted the gains around wrong components) and leaves its time to the
        stages that move components (no restart, no carried moves).
    """

    constraints = {
        "steps": Interval(0, None),
        "chain": Interval(0, None),
        "neighbours": Interval(1, None),
        "width": Interval(2, None),
        "share": Interval(0, 1),
        "rate": Interval(0, 1),
        "reach": Interval(0, None),
    }

    def __init__(
        self,
        steps: int = 0,
        chain: float = 1.0,
        neighbours: int = 3,
        width: int = 4,
        share: float = 0.5,
        rate: float = 0.5,
        reach: int = 2,
        judge: bool = False,
    ) -> None:
        self.steps = steps
        self.chain = chain
        self.neighbours = neighbours
        self.width = width
        self.share = share
        self.rate = rate
        self.reach = reach
        self.judge = judge

    def applies(self, ev: Evaluator, groups: Groups) -> bool:
        """Whether the stage is on and the pool holds exactly two norm slots' gains.

        Parameters
        ----------
        ev
            The search's evaluator.
        groups
            The arrangement's column groups.
        """
        return super().applies(ev, groups) and len(groups.singles[0]) == 2

    def placement(self, ev: Evaluator, arr: torch.Tensor, groups: Groups) -> torch.Tensor:
        """``arr`` with its gains placed by the weights alone: split into kinds, each half ordered
        along its chain by the links to ``arr``'s components, halves given to the slots by the higher
        total of links.

        Parameters
        ----------
        ev
            The evaluator whose stack ``arr`` indexes.
        arr
            The arrangement whose components are read.
        groups
            Its column groups.
        """
        cols, D = list(groups.singles[0]), arr.shape[0]
        pool = ev.stack.tensors[ev.stack.slots[cols[0]]].weight
        sim = gain_similarity(pool)
        halves = split_kinds(sim, self.neighbours)
        links = link_scores(ev, arr, groups).numpy()
        best: tuple[float, torch.Tensor] | None = None
        for order in ((0, 1), (1, 0)):
            new, total = arr.clone(), 0.0
            for c, h in enumerate(order):
                ids = halves[h]
                fit = links[c * D : (c + 1) * D][:, ids]
                perm = chain_order(fit, sim[np.ix_(ids, ids)], self.chain)
                total += float(fit[np.arange(D), perm].sum())
                new[:, cols[c]] = torch.as_tensor(ids[perm])
            if best is None or total > best[0]:
                best = (total, new)
        return best[1]

    def moves(self, arr: torch.Tensor, groups: Groups, p: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, D, S)`` gain moves whose first changed position is ``p`` and their first positions:
        permutations of one slot's gains within ``width`` positions from ``p``, exchanges between
        the two slots within them, and (from ``p = 0``) exchanges of two gains of one slot at any
        distance.

        Parameters
        ----------
        arr
            The arrangement.
        groups
            Its column groups.
        p
            The window's first position.
        """
        cols, D = list(groups.singles[0]), arr.shape[0]
        w = min(self.width, D - p)
        out, starts = [], []
        for c in cols:
            for q in itertools.permutations(range(w)):
                if q != tuple(range(w)):
                    new = arr.clone()
                    new[p : p + w, c] = arr[p + torch.tensor(q), c]
                    out.append(new)
                    starts.append(p + next(k for k in range(w) if q[k] != k))
        for i, j in itertools.product(range(p, p + w), repeat=2):
            new = arr.clone()
            new[i, cols[0]], new[j, cols[1]] = arr[j, cols[1]], arr[i, cols[0]]
            out.append(new)
            starts.append(min(i, j))
        if p == 0:
            for c in cols:
                for i, j in itertools.combinations(range(D), 2):
                    new = arr.clone()
                    new[i, c], new[j, c] = arr[j, c], arr[i, c]
                    out.append(new)
                    starts.append(i)
        return torch.stack(out), torch.tensor(starts)

    def run(
        self, ev: Evaluator, arr: torch.Tensor, groups: Groups, deadline: float, floor: float = 0.0
    ) -> tuple[torch.Tensor, dict]:
        """The arrangement with its gains searched (components held), and what the stage did
        (``placed_loss``: the weights' placement's loss; ``start``: which start was taken;
        ``moves``; ``losses``: after each pass over the positions).

        Parameters
        ----------
        ev
            Evaluates on the search's rows.
        arr
            The arrangement to start from.
        groups
            Its column groups.
        deadline
            The solve's deadline (``ev.clock()``); the stage takes at most ``share`` of the
            time left before it.
        floor
            The loss counted as zero (the stage stops there).
        """
        until = ev.clock() + self.share * max(0.0, deadline - ev.clock())
        cols = groups.singles[0]
        if ev.stack.tensors[ev.stack.slots[cols[0]]].weight.shape[0] != len(cols) * arr.shape[0]:
            return arr, {"moves": 0, "losses": []}  # not one square assignment
        given = arr
        placed = self.placement(ev, arr, groups)
        own, new = (float(x) for x in ev.run(torch.stack([arr, placed])))
        start = "placement" if new < own else "own"
        arr, loss = (placed, new) if new < own else (arr, own)
        moves, losses, D = 0, [loss], arr.shape[0]
        improved, states, carrying, carried, restarted = True, ev.states(arr), False, 0, False
        best, judged = (loss, arr), None
        while improved and loss > floor and moves < self.steps and ev.clock() <= until:
            improved, before, took = False, loss, 0
            for p in range(D - 1):
                if ev.clock() > until or loss <= floor or moves >= self.steps:
                    break
                cands, starts = self.moves(arr, groups, p)
                gain_moves = len(cands)  # the carried moves, where any, come after these
                if carrying:
                    more, at = carried_moves(arr, groups, p, self.reach)
                    cands, starts = torch.cat([cands, more]), torch.cat([starts, at])
                found = ev.suffix_losses(cands, starts, states)
                k = int(torch.argmin(found))
                if float(found[k]) < loss:
                    arr, loss, moves, improved = cands[k], float(found[k]), moves + 1, True
                    took += int(k >= gain_moves)
                    states = ev.states(arr)  # the prefix states change only with a move
            losses.append(loss)
            carried += took
            slow = floor < loss > self.rate * before  # a pass that reaches the floor is never slow
            if judged is None:  # the first pass judges the components
                judged = "wrong" if slow else "right"
            best = min(best, (loss, arr), key=lambda b: b[0])
            if carrying and not took:  # the components held still for a whole pass: the gains have settled
                break
            if not carrying and slow:  # a slow fall: the gains settle around wrong components
                if self.judge and len(losses) == 2:  # a slow first pass: the components are wrong
                    best = (float("inf"), given)
                    break
                if not self.reach:
                    break
                improved = True
                if start == "own":  # gains fitted around wrong components: bind them by the weights instead
                    arr, loss, start, restarted = placed, new, "placement", True
                    states = ev.states(arr)
                    losses.append(loss)
                else:
                    carrying = True
        loss, arr = best
        return arr, {
            "placed_loss": new,
            "own_loss": own,
            "start": start,
            "moves": moves,
            "carried": carried,
            "restarted": restarted,
            "losses": losses,
            "judged": judged,
        }
