"""``fast``: grouping, a seed in whichever direction fits better, screened parallel descents over
nested row samples, and where they stall an iterated search interleaved with whitened attempts
and a doubt on the weakest groups; then certification on the largest sample."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from reassembly.answer import Assembly
from reassembly.anytime import Reporter
from reassembly.errors import UnsupportedPuzzle
from reassembly.kernel import Evaluator, PieceStack
from reassembly.params import Interval, OneOf
from reassembly.puzzle import Puzzle
from reassembly.solver import BaseSolver, SolveResult, StageReport, time_left
from solvers.fast.context import Context
from solvers.fast.descent import Descent
from solvers.fast.moves import kick
from solvers.fast.regroup import Regroup
from solvers.fast.relink import Relink
from solvers.fast.search import IteratedSearch
from solvers.fast.whitening import Whitening
from solvers.grouping import SCORES, Grouping, check_groupable, group_pieces, unplaced_exchanges
from solvers.rows import evaluator, single_head
from solvers.seeds import REVERSED, SEEDS, delta_norm, seed_order

DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass
class Reached:
    """Where a descent over the row levels ended: arrangement, loss on its last level, MSE on all
    rows (NaN where not measured) and certificate."""

    arr: torch.Tensor
    loss: float
    full: float
    certificate: dict


class FastSolver(BaseSolver):
    """Exact and fast: screened parallel local search over grouped blocks, iterated where it stalls.

    Parameters
    ----------
    grouping
        Weight score that groups pieces into blocks: ``units`` (hidden-unit statistics, every
        family), ``ddr`` or ``cosine``.
    seed
        Seed order: ``auto`` (delta-norm in whichever direction has the lower loss) or a fixed key.
    rows
        Nested row samples searched in turn (a larger one only where a smaller one stalls).
    descent
        The screened parallel descent (:class:`~solvers.fast.descent.Descent`).
    search
        The iterated search where descents stall (:class:`~solvers.fast.search.IteratedSearch`).
    whitening
        Attempts on the whitened loss inside the search (:class:`~solvers.fast.whitening.Whitening`).
    regroup
        Doubt on the least confident groups (:class:`~solvers.fast.regroup.Regroup`).
    relink
        Grouping from data where the weight scores leave pairings in doubt
        (:class:`~solvers.fast.relink.Relink`).
    time_limit
        Seconds the whole solve may take: restarts stop in time to certify. ``None``: the
        referee's limit where the solve runs under one (the bench's ``--timeout``), less a
        reserve; no limit otherwise.
    floor
        Loss counted as zero, relative to the mean squared target (float rounding).
    dtype
        Floating type of the search (the certificate's final MSE is on all rows).
    random_state
        Seed of row samples, kicks and attempts.
    """

    constraints = {
        "grouping": OneOf(tuple(SCORES)),
        "seed": OneOf(("auto", *SEEDS)),
        "rows": Interval(2, None),
        "time_limit": Interval(0, None),
        "floor": Interval(0, None),
        "dtype": OneOf(tuple(DTYPES)),
        "random_state": Interval(0, None),
    }

    def __init__(
        self,
        grouping: str = "units",
        seed: str = "auto",
        rows: tuple[int, ...] | int = (512, 1024),
        descent: Descent | None = None,
        search: IteratedSearch | None = None,
        whitening: Whitening | None = None,
        regroup: Regroup | None = None,
        relink: Relink | None = None,
        time_limit: float | None = None,
        floor: float = 1e-9,
        dtype: str = "float32",
        random_state: int = 0,
    ) -> None:
        self.grouping = grouping
        self.seed = seed
        self.rows = rows
        self.descent = Descent() if descent is None else descent
        self.search = IteratedSearch() if search is None else search
        self.whitening = Whitening() if whitening is None else whitening
        self.regroup = Regroup() if regroup is None else regroup
        self.relink = Relink() if relink is None else relink
        self.time_limit = time_limit
        self.floor = floor
        self.dtype = dtype
        self.random_state = random_state

    def _time_limit(self) -> float | None:
        """Seconds the solve may take: ``time_limit``, else the referee's limit where one is known."""
        return self.time_limit if self.time_limit is not None else time_left()

    @staticmethod
    def _stop_reason(ctx: Context, best: Reached) -> str:
        """Why the search ended: ``floor`` (zero loss), ``time-limit``, ``restarts-exhausted`` (restarts
        stopped paying) or ``search-exhausted`` (no time limit known, so no restarts)."""
        if best.certificate["kind"] == "zero-loss":
            return "floor"
        if ctx.out_of_time():
            return "time-limit"
        restarted = any(s.stage == "restarts" for s in ctx.stages)
        return "restarts-exhausted" if restarted else "search-exhausted"

    def _seed(self, ctx: Context, arr: torch.Tensor, evs: list[Evaluator]) -> torch.Tensor:
        """The seed order, ranked on the largest row level; ``auto`` takes whichever direction of
        the delta-norm seed has the lower loss on the screen rows."""
        t0 = time.perf_counter()
        if self.seed == "auto":
            ascending = arr[torch.argsort(delta_norm(evs[-1], arr), stable=True)]
            orders = {"delta-norm": ascending, "delta-norm" + REVERSED: ascending.flip(0)}
        else:
            orders = {self.seed: seed_order(evs[-1], arr, self.seed)}
        n = self.search.screen_rows
        probe = evs[0].with_rows(evs[0].X[:n], evs[0].target[:n])
        losses = dict(zip(orders, probe.run(torch.stack(list(orders.values()))).tolist()))
        chosen = min(losses, key=losses.get)
        ctx.stages.append(
            StageReport(
                "seed",
                chosen,
                mse=losses[chosen],
                seconds=time.perf_counter() - t0,
                details={"candidates": losses, "loss_rows": probe.n_rows},
            )
        )
        return orders[chosen]

    def _descend(
        self,
        ctx: Context,
        arr: torch.Tensor,
        evs: list[Evaluator],
        full: Evaluator,
        label: str,
        exact: bool = False,
        stop_on_stall: bool = False,
    ) -> Reached:
        """Descents on each row level in turn, stopping once all rows are at the floor (with
        ``stop_on_stall``, also after the first level that ends above it). With ``exact`` the
        last level also runs the exact neighbourhood, which is what the certificate speaks of."""
        for level, ev in enumerate(evs):
            t0, e0 = time.perf_counter(), ev.evaluations
            arr, loss, log, certificate = ctx.descent.run(
                ev,
                arr,
                ctx.floor_of(ev),
                ctx.exchanges,
                exact and level == len(evs) - 1,
                ctx.past_final if exact else ctx.out_of_time,
            )  # certifying uses the reserve
            ctx.stages.append(
                StageReport(
                    "descent",
                    f"{label}@{ev.n_rows}rows",
                    mse=loss,
                    rounds=log.rounds,
                    swaps=log.swaps + log.exact_moves,
                    evaluations=ev.evaluations - e0,
                    seconds=time.perf_counter() - t0,
                    details={
                        "exchanges": log.exchanges,
                        "exact_moves": log.exact_moves,
                        "history": log.history,
                        "stop": certificate["kind"],
                    },
                )
            )
            if certificate["kind"] == "zero-loss":
                final = full.mse(arr)
                if final <= ctx.floor_of(full):
                    return Reached(arr, loss, final, certificate)
                certificate = {"kind": "subset-zero-loss", "loss": loss}
            elif stop_on_stall:
                break
        return Reached(arr, loss, math.nan, certificate)

    def _from_stall(
        self,
        ctx: Context,
        puzzle: Puzzle,
        stack: PieceStack,
        head: tuple[int, ...],
        grouping: Grouping,
        evs: list[Evaluator],
        full: Evaluator,
        best: Reached,
        best_so_far: Reporter,
    ) -> Reached:
        """Where the first descent stalls: regroup by data where the weights leave pairings in
        doubt, then the iterated search with doubts on the weakest groups."""
        slots = list(stack.slots)
        anchor = slots.index(puzzle.family.anchor)
        write = next(i for i, s in enumerate(puzzle.family.slots) if s.role == "write")
        grouped = stack.arrangement(Assembly(grouping.blocks, head))
        weakest = grouped[torch.argsort(torch.as_tensor(grouping.confidence), stable=True), anchor].tolist()
        ev, floor = evs[0], ctx.floor_of(evs[0])
        patience = self.search.patience_for(best.arr.shape[0])

        def search(start: torch.Tensor, label: str = "", max_steps: int | None = None) -> tuple[torch.Tensor, float]:
            return self.whitening.search(ctx, self.search, ev, start, patience, max_steps, label)

        arr, loss = best.arr, best.loss
        blocks: list[int] = []  # where the weights leave pairings open, the data decides among these blocks
        if self.relink.rounds and grouping.doubtful:
            blocks = self.relink.select(
                grouped[:, anchor].tolist(), grouping.margin, ev.target.shape[-1], puzzle.n_rows
            )
        reg = (
            evaluator(
                puzzle, stack, head, self.relink.rows_for(len(blocks), ev.target.shape[-1]), self.random_state + 1
            )
            if blocks
            else None
        )
        relink = (
            (lambda a, l: self.relink.run(ctx, reg, ev, a, l, write, anchor, blocks, lambda t: search(t, "relinked ")))
            if reg is not None
            else None
        )
        if relink is not None:
            arr, loss = relink(arr, loss)
            best_so_far.offer(arr)  # each stage's end is reported (a later stage never ends worse)
        if loss > floor:
            if self.regroup.weakest > 1:  # a grouping error the first descent can already expose
                arr = self.regroup.run(ctx, ev, arr, loss, weakest, anchor, write)
            arr, loss = search(arr)
            best_so_far.offer(arr)
            if loss > floor and self.regroup.weakest > 1:
                arr = self.regroup.run(
                    ctx, ev, arr, loss, weakest, anchor, write, lambda a, label: search(a, label, 3 * patience)
                )
                best_so_far.offer(arr)
        arr, loss = self._restart(ctx, ev, relink, arr, loss, write, search, best_so_far)
        best = self._descend(ctx, arr, evs, full, "after-iterated-search")
        best_so_far.offer(best.arr)
        return best

    def _restart(
        self,
        ctx: Context,
        ev: Evaluator,
        relink: Callable[[torch.Tensor, float], tuple[torch.Tensor, float]] | None,
        arr: torch.Tensor,
        loss: float,
        write: int,
        search: Callable[[torch.Tensor, str], tuple[torch.Tensor, float]],
        best_so_far: Reporter,
    ) -> tuple[torch.Tensor, float]:
        """Restarts while the loss is above the floor, time is left and restarts keep paying: each
        kicks a quarter of the blocks far and, where pairings are in doubt (``relink`` given), exchanges
        two write pieces and regroups by data, then searches again; the best arrangement is kept."""
        floor, D = ctx.floor_of(ev), arr.shape[0]
        t0, e0, done, stale, history = time.perf_counter(), ev.evaluations, 0, 0, [loss]
        while loss > floor and stale < self.search.restarts and ctx.deadline is not None and not ctx.out_of_time():
            rng = ctx.rng(1000 + done)
            start = kick(arr, rng, max(1, D // 4), D)
            if relink is not None:
                p, q = rng.choice(D, 2, replace=False)
                start[[p, q], write] = start[[q, p], write]
                start = relink(start, math.inf)[0]
            trial, trial_loss = search(start, f"restart{done} ")
            done += 1
            stale = 0 if trial_loss < loss else stale + 1
            if trial_loss < loss:
                arr, loss = trial, trial_loss
                best_so_far.offer(arr)
            history.append(loss)
        if done:
            ctx.stages.append(
                StageReport(
                    "restarts",
                    f"kicks{'+relink' if relink is not None else ''}",
                    mse=loss,
                    rounds=done,
                    evaluations=ev.evaluations - e0,
                    seconds=time.perf_counter() - t0,
                    details={
                        "history": history,
                        "stop": "floor" if loss <= floor else "time-limit" if ctx.out_of_time() else "patience",
                    },
                )
            )
        return arr, loss

    def check(self, puzzle: Puzzle) -> None:
        if not puzzle.family.screens:
            raise UnsupportedPuzzle(
                f"fast screens moves with output Jacobians, which the {puzzle.family.name!r} family "
                f"(rows of token sequences) does not provide; its solver is {puzzle.family.solver!r}"
            )
        check_groupable(puzzle)
        single_head(puzzle)

    def solve(self, puzzle: Puzzle) -> SolveResult:
        self.validate()
        self.check(puzzle)
        ctx = Context(self.descent, self.floor, unplaced_exchanges(puzzle), self.random_state)
        t0 = time.perf_counter()
        limit = self._time_limit()  # the search stops a reserve (a tenth, at most 10 s) early, to certify;
        if limit is not None:  # certifying stops in time to return the answer before the limit
            ctx.deadline, ctx.final = t0 + limit - min(0.1 * limit, 10.0), t0 + limit - min(0.02 * limit, 2.0)
        grouping = group_pieces(puzzle, self.grouping)
        head = single_head(puzzle)
        stack = PieceStack(puzzle, DTYPES[self.dtype])
        arr = stack.arrangement(Assembly(grouping.blocks, head))
        ctx.stages.append(
            StageReport(
                "grouping",
                self.grouping,
                seconds=time.perf_counter() - t0,
                details={"gap": grouping.gap, "doubtful": grouping.doubtful},
            )
        )
        levels = [self.rows] if isinstance(self.rows, int) else list(self.rows)
        evs = [evaluator(puzzle, stack, head, n, self.random_state) for n in levels]  # nested row sets
        full = evaluator(puzzle, stack, head)
        arr = self._seed(ctx, arr, evs)
        best_so_far = Reporter(lambda a: SolveResult(stack.assembly(a, head), list(ctx.stages), {"kind": "anytime"}))
        best_so_far.offer(arr)  # each stage's end is reported (a later stage never ends worse)

        searching = self.search.steps > 0  # the iterated search (on the first level) takes over from a stall
        best = self._descend(ctx, arr, evs, full, "screened-swaps", stop_on_stall=searching)
        best_so_far.offer(best.arr)
        if best.certificate["kind"] != "zero-loss" and searching:
            best = self._from_stall(ctx, puzzle, stack, head, grouping, evs, full, best, best_so_far)
        if best.certificate["kind"] != "zero-loss":  # polish and certify with the exact neighbourhood
            best = self._descend(ctx, best.arr, evs[-1:], full, "certify", exact=True)
            if math.isnan(best.full):
                best.full = full.mse(best.arr)
        certificate = {
            **best.certificate,
            "rows": evs[-1].n_rows,
            "final_mse_all_rows": best.full,
            "all_rows": puzzle.n_rows,
            "stopped": self._stop_reason(ctx, best),
            "time_limit": limit,
        }
        return SolveResult(stack.assembly(best.arr, head), ctx.stages, certificate)
