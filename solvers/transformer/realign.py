"""Window permutations of the components, each followed by a refit of the norm gains around them,
while the exact loss falls.

Why: the components and the norm gains are wrong together at depth, and each hides the other. At 24
layers of SmolLM2 the ``units`` race leaves the end of the chain wrong (held-out seeds 100 and 101:
the last two layers' V/O and MLP exchanged, the last four Q/K reversed), and the softassign fit then
places the gains around those wrong components. The exact search moves gains to make up for the
wrong tail, and its window permutations, the last neighbourhood it tries, come too late or no
longer rank the true tail first. Taken in turn, each is easy (held-out 24-layer seed 101, from the
solver's own softassign placement, loss 0.376 on the search's rows): the best permutation of the
last window is the true tail; the gains refitted around it by a softassign that *starts from their
current placement* (``warm``) are 33 of 48 in place (refitting the attention norms alone, the
MLP norms held at their true places: 20 of 24 warm, 7 of 24 from the links alone); the exact
search from there is exact in 42 s. So this stage alternates the two: the best permutation
of the last window that lowers the loss, windows tried from the end backwards (the search's
:meth:`~solvers.transformer.search.LocalSearch.permute_windows`), then a warm softassign refit of
every gain (:class:`~solvers.transformer.softassign.SoftAssign`), kept where it lowers the loss;
rounds go on while a window lowers the loss, within ``share`` of the time left. Two ways of
stopping earlier were measured and dropped (report seeds, two solves at a time): walking the
windows one by one and stopping at the first that does not help lost 24-layer seed 0 (0.095,
against exact); starting only where the last window helps lost 24-layer seeds 0 and 1 (0.102
and 0.598). The price: where no window helps, the first scan runs every window before the search
(18 layers, report seeds 0 and 1: about 160 s, the solves 343–351 s against 173–273 s before).

**A probe first** (``probe``, a tenth of the time left): before the first window the search runs
from the arrangement; where it reaches zero loss the stage returns its end, and otherwise the
probe is dropped and the windows start from the arrangement as before. Why: where the race's
components are right, what the softassign stage leaves is a few local errors, which the search
repairs in seconds, while the window scan that finds nothing runs every window first (held-out
18 layers, seeds 100–103: the scan 147–153 s, the search after it 8–20 s). Where they are wrong
(24 layers) the probe does not finish and costs little: held-out 24 layers, seeds 100–103, give
the same answers with the probe as without (two solves at a time, the two benches not side by
side: 359.9 / 373.9 / 380.7 s exact against 360.2 / 373.2 / 386.8 s; seed 102 MSE 0.701 either
way), and 18 layers seeds 101 and 103 are exact in 180.7 and 192.5 s against 316.0 and 321.1 s.
The probe's result is kept at zero loss, or where no window lowers the loss and the probe's end is
lower than the arrangement (the search after the stage would otherwise repeat the probe's moves);
otherwise the windows start from the arrangement: a search that has not finished may have moved
gains to make up for wrong components, which is what the windows repair.

**Windows screened on part of the rows** (``screen``, a quarter of the search's rows; ``keep``,
16): every permutation of a window (1,679 with three kinds) is first evaluated on the first quarter
of the search's rows and only the ``keep`` lowest on all of them; the permutation taken is the
exact best of those, kept only where its exact loss is lower. Why: a whole scan of 18 layers on
every row costs about 640 s, so the scan that finds nothing ends with the stage's share (about
150 s) before it reaches the first positions (report 18 layers, seed 1: the wrong V/O of layers
4 and 5, which the screened scan reaches and repairs). A window's candidates differ by whole
components, large changes that a quarter of the rows ranks alike (held-out seeds 100 at 18 and 24
layers, every window measured where a candidate lowers the loss: the exact best stands 1st to
12th of 1,679 in the screen's order, Spearman 0.67 to 0.97; ``docs/studies/window_screen_study.py``).
The screen is not a first-order estimate: it is the same exact loss on fewer token positions, so
it ranks component moves where the first-order screens do not.

Why it should generalise: nothing in it names a network or a depth. The window permutations are
the search's own moves, tried where a chain of weight-placed components is least sure (its end:
one neighbour, and the head, after it); the refit is the softassign fit, judged by the exact loss
and kept only where it lowers it.
"""

from __future__ import annotations

import numpy as np
import torch

from reassembly.kernel import Evaluator
from reassembly.params import Configurable, Interval
from solvers.transformer.moves import Groups, carried_moves
from solvers.transformer.search import LocalSearch, SearchLog
from solvers.transformer.softassign import SoftAssign


class Realign(Configurable):
    """Window permutations of the components with the norm gains refitted after each (see the
    module docstring).

    Parameters
    ----------
    rounds
        Most window permutations taken (each followed by a refit); 0 turns the stage off.
    share
        The most of the solve's time left that the stage may take.
    warm
        The weight of the placement being refitted in the refit's first logits
        (:class:`~solvers.transformer.softassign.SoftAssign`'s ``warm``).
    probe
        Before the first window, the search runs from the arrangement for at most this share of
        the time left; where it reaches zero loss the stage returns its end; otherwise the windows
        start from the arrangement, and where none of them lowers its loss the stage returns the
        probe's end, where that is lower (0: no probe).
    screen
        Every window permutation is first evaluated on this share of the search's rows (at least
        one), and only the ``keep`` lowest on all of them (0: every candidate on every row).
    keep
        Candidates of the screen evaluated on every row.
    carry
        Before each window scan, the best *carried* move that lowers the loss is taken instead
        (:func:`~solvers.transformer.moves.carried_moves`: a whole layer, or one sublayer with its
        norm gain, exchanged with a position up to ``carry`` after it), with no refit (the gains
        move with their components); 0 (the default): none. Off because it lost held-out 24-layer
        seed 100 (exact to MSE 0.0967): while the gains are still being placed, the carried
        exchange that lowers the loss most is often not a repair (docs/real-networks-studies.md).
    """

    constraints = {
        "rounds": Interval(0, None),
        "share": Interval(0, 1),
        "warm": Interval(0, None),
        "probe": Interval(0, 1),
        "screen": Interval(0, 1),
        "keep": Interval(1, None),
        "carry": Interval(0, None),
    }

    def __init__(
        self,
        rounds: int = 4,
        share: float = 0.5,
        warm: float = 4.0,
        probe: float = 0.1,
        screen: float = 0.25,
        keep: int = 16,
        carry: int = 0,
    ) -> None:
        self.rounds = rounds
        self.share = share
        self.warm = warm
        self.probe = probe
        self.screen = screen
        self.keep = keep
        self.carry = carry

    def applies(self, ev: Evaluator, groups: Groups, search: LocalSearch, fit: SoftAssign) -> bool:
        """Whether the stage is on, the search permutes windows and the softassign fit applies.

        Parameters
        ----------
        ev
            The search's evaluator.
        groups
            The arrangement's column groups.
        search
            The solver's search (its ``permute`` width).
        fit
            The solver's softassign stage.
        """
        return self.rounds > 0 and search.permute > 1 and bool(groups.kinds) and fit.applies(ev, groups)

    def best_carried(self, ev: Evaluator, arr: torch.Tensor, groups: Groups) -> tuple[torch.Tensor, float]:
        """The carried move of ``arr`` with the lowest loss, and that loss (``arr`` and infinity
        where it has none).

        Parameters
        ----------
        ev
            Evaluates on the search's rows.
        arr
            The arrangement.
        groups
            Its column groups.
        """
        found = [carried_moves(arr, groups, p, self.carry) for p in range(arr.shape[0] - 1)]
        if not found:
            return arr, float("inf")
        cands, starts = torch.cat([c for c, _ in found]), torch.cat([at for _, at in found])
        losses = ev.suffix_losses(cands, starts, ev.states(arr))
        i = int(torch.argmin(losses))
        return cands[i], float(losses[i])

    def run(
        self,
        ev: Evaluator,
        arr: torch.Tensor,
        groups: Groups,
        search: LocalSearch,
        fit: SoftAssign,
        deadline: float,
        floor: float = 0.0,
        rng: np.random.Generator | None = None,
    ) -> tuple[torch.Tensor, dict]:
        """The arrangement after the rounds, and what they did (``losses``: the loss after each
        round, the first the one given; ``refits_kept``: whether each round's refit was kept;
        ``windows``: the first position each round's permutation changed; ``probe``: where the
        stage has one, the loss its search ended at; where that is zero loss the stage ends with
        it, and ``losses`` holds that loss alone).

        Parameters
        ----------
        ev
            Evaluates on the search's rows.
        arr
            The arrangement to start from.
        groups
            Its column groups.
        search
            Permutes the windows.
        fit
            Refits the norm gains.
        deadline
            The solve's deadline (``ev.clock()``); the stage takes at most ``share`` of the
            time left before it.
        floor
            The loss counted as zero (the stage stops there).
        rng
            The probe's search's kicks (seed 0 where not given).
        """
        end, probed = arr, float("inf")
        if self.probe > 0:
            w0 = ev.clock()
            end, probed, _ = search.run(
                ev, arr, groups, floor, w0 + self.probe * max(0.0, deadline - w0), rng or np.random.default_rng(0)
            )
            if probed <= floor:  # the components and gains were right but for local errors
                return end, {"losses": [probed], "refits_kept": [], "windows": [], "probe": probed}
        until = ev.clock() + self.share * max(0.0, deadline - ev.clock())
        loss = float(ev.loss(ev.states(arr)[-1]))
        losses, kept, windows = [loss], [], []
        screen = ev.first_rows(max(1, round(self.screen * ev.n_rows))) if self.screen > 0 else None
        carries = 0
        while len(kept) < self.rounds and loss > floor and ev.clock() <= until:
            if self.carry:
                moved, moved_loss = self.best_carried(ev, arr, groups)
                if moved_loss < loss:  # an order error of sublayers that carry their gains
                    arr, loss, carries = moved, moved_loss, carries + 1
                    continue
            moved, moved_loss, taken = search.permute_windows(
                ev, arr, groups, until, SearchLog(), screen=screen, keep=self.keep
            )
            if not taken:
                break
            windows.append(int((moved != arr).any(1).nonzero()[0]))
            refit, _ = fit.run(ev, moved, groups, until, warm=self.warm)
            refit_loss = float(ev.loss(ev.states(refit)[-1]))
            kept.append(refit_loss < moved_loss)
            arr, loss = (refit, refit_loss) if kept[-1] else (moved, moved_loss)
            losses.append(loss)
        details = {"losses": losses, "refits_kept": kept, "windows": windows, "carried": carries}
        if self.probe > 0:
            details["probe"] = probed
            # no window (nor carried move) helps: the search goes on where the probe ended
            if not windows and not carries and probed < loss:
                arr = end
                details["losses"].append(probed)
        return arr, details
