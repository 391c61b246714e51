"""Exact local search over arrangements of transformer layers, in sweeps through the network.

A sweep visits the positions in network order; at each, one group of moves after another
(:func:`~solvers.transformer.moves.moves_at`: exchanging this block's component of one kind, or
one of its norm gains, with a later block's; turning an unsure pair round; moving the whole block)
is evaluated exactly from the cached prefix states and the best move taken where it lowers the
loss. The input of position 0 is known exactly, so getting early positions right first pays: a
right prefix makes every later choice easier to judge. Sweeps repeat until one changes nothing;
then larger neighbourhoods (rotations, whole sublayers, assignment moves: a kind's permutation
by the Hungarian algorithm on exact substitution losses, :meth:`LocalSearch.assign`); then
random kicks from the best arrangement so far (iterated local search) until the loss reaches the
floor, patience runs out or time is up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from reassembly.kernel import Evaluator
from reassembly.params import Configurable, Interval, OneOf
from solvers.transformer.moves import (
    Groups,
    cells_of,
    kick,
    moves_at,
    permuted,
    preferred_cycles,
    substitutions,
    window_permutations,
)

OnMove = Callable[[torch.Tensor, float], None]


@dataclass
class SearchLog:
    sweeps: int = 0
    moves: dict[str, int] = field(default_factory=dict)
    kicks: int = 0
    history: list[float] = field(default_factory=list)
    stop: str = ""
    #: Whether the best arrangement was checked to be a local optimum of every neighbourhood.
    certified: bool = False
    #: Candidates evaluated by the sweeps that found no improving move from the best arrangement.
    checked: int = 0
    #: The lowest loss among those candidates (above the best loss: none improves).
    best_neighbour: float = float("inf")
    #: Candidates evaluated (and the lowest loss among them) in the current run of sweeps.
    _checked: int = 0
    _best_neighbour: float = float("inf")


class LocalSearch(Configurable):
    """Iterated exact local search in sweeps.

    Parameters
    ----------
    window
        Moves reach at most this many positions ahead (``None``: any later position). The default
        covers all six layers of MiniLM; a sweep through SmolLM's thirty then takes most of the
        time limit on two cores.
    kick_moves
        Random moves in one kick.
    patience
        Kicks in a row without improvement after which the search stops.
    rotate
        Where a sweep changes nothing, first sweep again with the larger neighbourhood that also
        rotates the components of one or more kinds through several positions (a wrong linking of
        three or more layers in a cycle); where that changes nothing either, a sweep of
        exchanges of whole sublayers (a norm gain with the components it feeds); kick only where
        that changes nothing too.
    coordinate
        First, sweeps that move one group of columns at a time (one kind's components, or one
        pool's single pieces; :meth:`coordinate_descent`), cycling through the groups until none
        changes, before the sweeps over every move; ``"sublayers"`` (the default): the second
        phase also exchanges whole sublayers (a norm gain with the components it feeds) as a
        group, which repairs a mislinked V/O whose Q/K and gain settled around it (held-out
        12-layer SmolLM2, seeds 100-102: exact on all three, against two with ``True``).
    assignments
        Where the sweeps (rotations and sublayers included) change nothing, *assignment moves*
        before a kick (:meth:`assign`): each kind's components (and each pool's pieces) re-placed
        along the cycles of the assignment that the losses of single substitutions prefer.
    permute
        Where the assignment moves change nothing either, *window permutations* before a kick
        (:meth:`permute_windows`): the components of ``permute`` consecutive positions permuted
        within them, one kind by one permutation and the others by another
        (:func:`~solvers.transformer.moves.window_permutations`), windows tried from the last
        backwards until one lowers the loss; 0 turns them off.
    """

    constraints = {
        "window": Interval(1, None),
        "kick_moves": Interval(1, None),
        "patience": Interval(0, None),
        "coordinate": OneOf((True, False, "sublayers")),
        "permute": Interval(0, None),
    }

    def __init__(
        self,
        window: int | None = 6,
        kick_moves: int = 2,
        patience: int = 10,
        rotate: bool = True,
        coordinate: bool | str = "sublayers",
        assignments: bool = True,
        permute: int = 4,
    ) -> None:
        self.window = window
        self.kick_moves = kick_moves
        self.patience = patience
        self.rotate = rotate
        self.coordinate = coordinate
        self.assignments = assignments
        self.permute = permute

    def neighbourhood(self) -> str:
        """In words, the moves a sweep that finds nothing has checked (a certificate's ``neighbourhood``)."""
        reach = "any later position" if self.window is None else f"the next {self.window} positions"
        words = (
            f"exchanges of a kind's components or of single pieces with {reach}, unsure pairs turned, whole-block moves"
        )
        if self.rotate:
            words += "; rotations of every set of kinds; exchanges of whole sublayers"
        if self.assignments:
            words += "; the cycles of each kind's and pool's assignment by substitution losses"
        if self.permute > 1:
            words += f"; permutations of the components within every {self.permute} consecutive positions"
        return words

    def permute_windows(
        self,
        ev: Evaluator,
        arr: torch.Tensor,
        groups: Groups,
        deadline: float,
        log: SearchLog,
        on_move: OnMove | None = None,
        screen: Evaluator | None = None,
        keep: int = 16,
    ) -> tuple[torch.Tensor, float, int]:
        """The best window permutation (:func:`~solvers.transformer.moves.window_permutations`) of
        the last window that has one lowering the loss, windows tried from the last position
        backwards: a window near the end is the cheapest to evaluate (only the positions from it on
        are run) and the exact loss is most sensitive to the last layers. Returns the arrangement,
        its loss and the moves taken (0 or 1).

        Parameters
        ----------
        ev, arr, groups, deadline, log, on_move
            As for :meth:`sweep`.
        screen, keep
            As for :meth:`best_window` (the search's own windows are evaluated on every row, so that
            a certificate's claim holds).
        """
        states = ev.states(arr)
        loss = float(ev.loss(states[-1]))
        for p in range(max(0, arr.shape[0] - self.permute), -1, -1):
            if ev.clock() > deadline:
                break
            cand, cand_loss = self.best_window(ev, arr, groups, p, states, deadline, log, screen, keep)
            if cand_loss < loss:
                log.moves["permute"] = log.moves.get("permute", 0) + 1
                if on_move is not None:
                    on_move(cand, cand_loss)
                return cand, cand_loss, 1
        return arr, loss, 0

    def best_window(
        self,
        ev: Evaluator,
        arr: torch.Tensor,
        groups: Groups,
        p: int,
        states: torch.Tensor,
        deadline: float,
        log: SearchLog | None = None,
        screen: Evaluator | None = None,
        keep: int = 16,
    ) -> tuple[torch.Tensor, float]:
        """The window permutation of positions ``p .. p + permute - 1`` with the lowest loss, and
        its loss (``arr`` and infinity where there is none, or the deadline passes first).

        Parameters
        ----------
        ev, arr, groups, deadline
            As for :meth:`sweep` (past the deadline, the candidates left are not evaluated).
        p
            The window's first position.
        states
            ``arr``'s prefix states (``ev.states(arr)``).
        log
            Counts the candidates evaluated on every row, where given.
        screen
            Where given, every candidate is first evaluated on this evaluator's rows (the first rows of
            ``ev``'s: :meth:`~reassembly.kernel.Evaluator.first_rows`) and only the ``keep`` lowest
            on all of ``ev``'s.
        keep
            Candidates of the screen evaluated on every row.
        """
        cands = window_permutations(arr, groups, p, self.permute)
        if not len(cands):
            return arr, float("inf")
        judge, judged = (ev, states) if screen is None else (screen, states[:, : screen.n_rows])
        losses = torch.full((len(cands),), float("inf"))
        for a in range(0, len(cands), 256):  # in parts: a window far from the end runs many layers
            if ev.clock() > deadline:
                break
            part = cands[a : a + 256]
            losses[a : a + len(part)] = judge.suffix_losses(part, torch.full((len(part),), p), judged)
        checked = len(cands)
        if screen is not None:  # the screen's best, evaluated on every row
            top = torch.argsort(losses)[:keep]
            top = top[torch.isfinite(losses[top])]
            losses = torch.full((len(cands),), float("inf"), dtype=torch.float64)
            if len(top) and ev.clock() <= deadline:
                exact = ev.suffix_losses(cands[top], torch.full((len(top),), p), states)
                losses[top] = exact.to(losses.dtype)
            checked = len(top)
        i = int(torch.argmin(losses))
        if log is not None:
            log._checked += checked
            log._best_neighbour = min(log._best_neighbour, float(losses[i]))
        return cands[i], float(losses[i])

    def sweep(
        self,
        ev: Evaluator,
        arr: torch.Tensor,
        groups: Groups,
        floor: float,
        deadline: float,
        log: SearchLog,
        on_move: OnMove | None = None,
        rotate: bool = False,
        sublayer: bool = False,
        blocks: bool = True,
    ) -> tuple[torch.Tensor, float, int]:
        """One sweep from ``arr``; returns the arrangement, its loss and the number of moves taken
        (each move taken is passed to ``on_move(arrangement, loss)``).

        Parameters
        ----------
        ev
            Evaluates arrangements on the search's rows.
        arr
            The arrangement to start from.
        groups
            Its column groups.
        floor
            The loss counted as zero.
        deadline
            ``ev.clock()`` after which the sweep returns.
        log
            Counts the moves taken.
        on_move
            Sees every move taken.
        rotate
            Also try rotating the components of sets of kinds (:func:`~solvers.transformer.moves.moves_at`).
        sublayer
            Try only exchanges of whole sublayers.
        blocks
            Also try moving whole blocks.
        """
        window = arr.shape[0] if self.window is None else self.window
        states = ev.states(arr)
        loss, taken = float(ev.loss(states[-1])), 0
        for p in range(arr.shape[0]):
            for label, cands in moves_at(arr, groups, p, window, rotate, sublayer, blocks):
                if loss <= floor or ev.clock() > deadline:
                    return arr, loss, taken
                losses = ev.suffix_losses(cands, torch.full((len(cands),), p), states)
                i = int(torch.argmin(losses))
                log._checked += len(cands)
                log._best_neighbour = min(log._best_neighbour, float(losses[i]))
                if float(losses[i]) < loss:
                    arr, loss, taken = cands[i], float(losses[i]), taken + 1
                    log.moves[label] = log.moves.get(label, 0) + 1
                    states = ev.states(arr, states, p)
                    if on_move is not None:
                        on_move(arr, loss)
        return arr, loss, taken

    def coordinate_descent(
        self,
        ev: Evaluator,
        arr: torch.Tensor,
        groups: Groups,
        floor: float,
        deadline: float,
        log: SearchLog,
        on_move: OnMove | None = None,
    ) -> torch.Tensor:
        """Sweeps that move one group of columns at a time (:meth:`Groups.parts`), each repeated
        until it changes nothing, cycling through the groups until a whole cycle changes nothing;
        returns the arrangement. Where the start linked kinds by their weights (``groups.chain``),
        those are held in a first phase while the others settle around them, then every group
        is moved. Where the start leaves some pairs' orientation to the data (``groups.flips``),
        each cycle first turns pairs alone: an exchange of a kind's components, tried first,
        can lower the loss by moving a wrongly turned pair elsewhere and leave the search where
        no single turn helps (held-out MiniLM seed 131: Q/K of layers 0 and 4 exchanged as the
        first move, a local optimum at 42 of 48 pieces, 8,906 evaluations; the three wrong pairs
        turned one by one lower the loss each time).

        A move of one kind is judged with every other kind where it is. From a start where each
        kind is partly right, the best move over *all* kinds is often one that makes up for a
        wrong component with another kind's (a norm gain, a whole block) and takes right pieces
        away from their places; one kind at a time cannot. (On held-out 12-layer SmolLM2, with one
        kind scrambled and everything else right, sweeps over every move end with no layer whole;
        sweeps over that kind alone put it back in seconds.)

        Parameters
        ----------
        ev, arr, groups, floor, deadline, log, on_move
            As for :meth:`sweep`.
        """
        parts = groups.parts(self.coordinate == "sublayers")
        free = [g for g in groups.parts() if not (g.kinds and {c for k in g.kinds for c in k} <= set(groups.chain))]
        if groups.flips:  # the pairs' orientation, the one thing the start leaves to the data, first
            turns = Groups((), (), groups.flips)
            parts, free = [turns, *parts], [turns, *free]
        for phase in [free, parts] if groups.chain else [parts]:
            changed = True
            while changed:
                changed = False
                for part in phase:
                    taken = 1
                    while taken:
                        arr, loss, taken = self.sweep(ev, arr, part, floor, deadline, log, on_move, blocks=False)
                        log.sweeps += 1
                        if not taken and self.assignments and loss > floor:
                            arr, loss, taken = self.assign(ev, arr, part, floor, deadline, log, on_move)
                        changed = changed or bool(taken)
                        if loss <= floor or ev.clock() > deadline:
                            return arr
        return arr

    def assign(
        self,
        ev: Evaluator,
        arr: torch.Tensor,
        groups: Groups,
        floor: float,
        deadline: float,
        log: SearchLog,
        on_move: OnMove | None = None,
    ) -> tuple[torch.Tensor, float, int]:
        """Assignment moves, one kind (or pool of single pieces) at a time; returns as :meth:`sweep`.

        Every *substitution* of the kind is evaluated exactly (at any distance: the window does
        not apply): position ``p`` given the component of position ``q`` (which stays at ``q``
        too, so the network is still one network). The Hungarian algorithm on those losses gives the permutation of the kind
        that single substitutions prefer (the current loss where a place keeps its piece); each
        of its cycles, and all of them at once, is evaluated exactly as a move, and the best
        taken where it lowers the loss. A wrong placement that is a long cycle (five layers' Q/K
        each one place along), whose single exchanges each cost more than they gain while other
        kinds are wrong too, is one such move: a substitution judges a component at a place
        without also moving the piece it replaces to where that one would hurt.

        Parameters
        ----------
        ev, arr, groups, floor, deadline, log, on_move
            As for :meth:`sweep`.
        """
        D = arr.shape[0]
        states = ev.states(arr)
        loss, taken = float(ev.loss(states[-1])), 0
        for label, cells in cells_of(groups, D):
            if loss <= floor or ev.clock() > deadline:
                break
            cands, pairs = substitutions(arr, cells, D)
            if not pairs:
                continue
            starts = torch.tensor([cells[i][0][0] for i, _ in pairs])
            parts, step = [], len(cells)  # about one place's substitutions between looks at the clock
            for b in range(0, len(pairs), step):
                if ev.clock() > deadline:
                    return arr, loss, taken
                parts.append(ev.suffix_losses(cands[b : b + step], starts[b : b + step], states))
            moves = preferred_cycles(len(cells), pairs, torch.cat(parts).tolist(), loss)
            if not moves:
                continue
            if len(moves) > 1:
                moves.append({i: j for m in moves for i, j in m.items()})
            trials = torch.stack([permuted(arr, cells, m) for m in moves])
            first = torch.tensor([min(cells[i][0][0] for i in m) for m in moves])
            trial_losses = ev.suffix_losses(trials, first, states)
            k = int(torch.argmin(trial_losses))
            log._checked += len(moves)
            log._best_neighbour = min(log._best_neighbour, float(trial_losses[k]))
            if float(trial_losses[k]) < loss:
                arr, loss, taken = trials[k], float(trial_losses[k]), taken + 1
                log.moves[f"assign-{label}"] = log.moves.get(f"assign-{label}", 0) + 1
                states = ev.states(arr, states, int(first[k]))
                if on_move is not None:
                    on_move(arr, loss)
        return arr, loss, taken

    def run(
        self,
        ev: Evaluator,
        arr: torch.Tensor,
        groups: Groups,
        floor: float,
        deadline: float,
        rng: np.random.Generator,
        on_move: OnMove | None = None,
    ) -> tuple[torch.Tensor, float, SearchLog]:
        """Search from ``arr`` on ``ev``'s rows (see the module docstring); ``on_move(arrangement,
        loss)`` sees every move taken (an anytime reporter keeps the best)."""
        window = arr.shape[0] if self.window is None else self.window
        log = SearchLog()
        log.history.append(float(ev.loss(ev.states(arr)[-1])))
        if self.coordinate:
            arr = self.coordinate_descent(ev, arr, groups, floor, deadline, log, on_move)
        best, best_loss, stale = arr, float(ev.loss(ev.states(arr)[-1])), 0
        log.history.append(best_loss)
        while True:
            log._checked, log._best_neighbour = 0, float("inf")
            arr, loss, taken = self.sweep(ev, arr, groups, floor, deadline, log, on_move)
            log.sweeps += 1
            if not taken and self.rotate and groups.kinds and loss > floor:  # a local optimum: the larger neighbourhood
                arr, loss, taken = self.sweep(ev, arr, groups, floor, deadline, log, on_move, rotate=True)
                log.sweeps += 1
            if not taken and self.rotate and groups.sublayers and loss > floor:  # then whole sublayers
                arr, loss, taken = self.sweep(ev, arr, groups, floor, deadline, log, on_move, sublayer=True)
                log.sweeps += 1
            if not taken and self.assignments and loss > floor:  # then whole permutations of a kind
                arr, loss, taken = self.assign(ev, arr, groups, floor, deadline, log, on_move)
                log.sweeps += 1
            if not taken and self.permute > 1 and groups.kinds and loss > floor:  # then windows permuted
                arr, loss, taken = self.permute_windows(ev, arr, groups, deadline, log, on_move)
                log.sweeps += 1
            if loss < best_loss:
                best, best_loss = arr, loss
                log.history.append(loss)
                stale = 0 if taken else stale
                log.certified = False
            complete = ev.clock() <= deadline and loss > floor
            if (
                not taken and complete and torch.equal(arr, best) and not log.certified
            ):  # no move lowers the best's loss
                log.certified, log.checked, log.best_neighbour = True, log._checked, log._best_neighbour
            if best_loss <= floor:
                log.stop = "floor"
                break
            if ev.clock() > deadline:
                log.stop = "time"
                break
            if taken:
                continue
            stale += 1  # a local optimum: kick from the best arrangement so far
            if stale > self.patience:
                log.stop = "patience"
                break
            log.kicks += 1
            arr = kick(best, groups, rng, self.kick_moves, window)
        return best, best_loss, log
