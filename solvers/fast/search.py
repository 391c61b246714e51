"""Iterated local search where a descent stalls: long-range insertions screened to first order,
far moves, random kicks; each start descended from and kept where it improves."""

from __future__ import annotations

import time

import numpy as np
import torch

from reassembly.kernel import Evaluator
from reassembly.kernel.screens import predict_insertions
from reassembly.params import Configurable, Interval
from reassembly.solver import StageReport
from solvers.fast.context import Context
from solvers.fast.moves import insertion_order, kick


def best_insertion(
    ev: Evaluator, arr: torch.Tensor, loss: float, top: int, predicted: torch.Tensor
) -> tuple[torch.Tensor, float] | None:
    """Verify the ``top`` best screened insertions (``predicted``: :func:`predict_insertions`)
    exactly on ``ev``'s rows; the best verified arrangement where it beats ``loss``."""
    D = arr.shape[0]
    flat = predicted.flatten()
    moves = [divmod(m, D + 1) for m in torch.argsort(flat)[:top].tolist() if torch.isfinite(flat[m])]
    if not moves:
        return None
    idx = torch.tensor([insertion_order(D, k, t) for k, t in moves])
    losses = ev.suffix_losses(arr[idx], torch.tensor([min(k, t) for k, t in moves]), ev.states(arr))
    best = int(torch.argmin(losses))
    return (arr[idx[best]], float(losses[best])) if float(losses[best]) < loss else None


def long_insertions(predicted: torch.Tensor, arr: torch.Tensor, min_shift: int, count: int) -> list[torch.Tensor]:
    """Arrangements after the ``count`` best screened insertions of more than ``min_shift`` places,
    one per block, best first: starts for descents (a block far from its place may only pay once
    its neighbourhood has re-settled around it)."""
    D = arr.shape[0]
    gap = torch.arange(D + 1) - torch.arange(D).unsqueeze(1)  # t - k
    shift = torch.where(gap > 0, gap - 1, -gap)
    best, target = predicted.masked_fill(shift <= min_shift, float("inf")).min(dim=1)
    ranked = [k for k in torch.argsort(best).tolist()[:count] if torch.isfinite(best[k])]
    return [arr[torch.tensor(insertion_order(D, k, int(target[k])))] for k in ranked]


class IteratedSearch(Configurable):
    """Iterated local search on a fixed row set.

    Each step descends from the best verified long-range insertion or, where none improves, from
    the next of the best screened far moves, and once those are spent from a random kick; the
    result is kept where it improves.

    Parameters
    ----------
    steps
        Most steps in one solve.
    patience
        Steps in a row without improvement after which the search stops (``None``: half the depth, at least 10).
    settle
        Failed steps since the last improvement that descended back to the same order after which
        the search stops (the optimum is stable: typical of lossy pieces).
    insert_top
        Screened insertions verified exactly per step (0: kicks only).
    long_moves
        Far moves (more than ``kick_shift`` places) tried as starts where no insertion improves.
    kick_moves
        Random insertions in one kick.
    kick_shift
        Most places a kick moves one block.
    screen_rows
        Rows of the first-order insertion screen.
    restarts
        Where the search ends above the floor and the solve has a time limit: restarts in a row
        without a better loss after which the solve stops (each kicks a quarter of the blocks far
        and, where pairings are in doubt, the grouping; then searches again). 0: none.
    """

    constraints = {
        "steps": Interval(0, None),
        "patience": Interval(1, None),
        "settle": Interval(1, None),
        "insert_top": Interval(0, None),
        "long_moves": Interval(0, None),
        "kick_moves": Interval(1, None),
        "kick_shift": Interval(1, None),
        "screen_rows": Interval(2, None),
        "restarts": Interval(0, None),
    }

    def __init__(
        self,
        steps: int = 500,
        patience: int | None = None,
        settle: int = 5,
        insert_top: int = 16,
        long_moves: int = 4,
        kick_moves: int = 3,
        kick_shift: int = 8,
        screen_rows: int = 128,
        restarts: int = 8,
    ) -> None:
        self.steps = steps
        self.patience = patience
        self.settle = settle
        self.insert_top = insert_top
        self.long_moves = long_moves
        self.kick_moves = kick_moves
        self.kick_shift = kick_shift
        self.screen_rows = screen_rows
        self.restarts = restarts

    def patience_for(self, depth: int) -> int:
        return max(10, depth // 2) if self.patience is None else self.patience

    def run(
        self,
        ctx: Context,
        ev: Evaluator,
        arr: torch.Tensor,
        screen: Evaluator,
        max_steps: int,
        patience: int,
        rng: np.random.Generator,
        kick_moves: int | None = None,
        early: int = 0,
        label: str = "",
        report: bool = True,
    ) -> tuple[torch.Tensor, float, str]:
        """Search from ``arr`` on ``ev``'s rows, screening insertions on ``screen``. Stops at the floor,
        after ``max_steps`` steps, after ``patience`` steps in a row without improvement, once
        ``settle`` failed steps have come back to the same order, or (``early`` > 0) once its first
        ``early`` steps have each improved. Returns the arrangement, its loss and the stop rule."""
        t0, e0, s0 = time.perf_counter(), ev.evaluations, screen.evaluations
        floor = ctx.floor_of(ev)
        loss = float(ev.loss(ev.states(arr)[-1]))
        kick_moves = self.kick_moves if kick_moves is None else kick_moves
        history, steps, stale, returns = [loss], 0, 0, 0
        accepted = {"insertion": 0, "long": 0, "kick": 0}
        screened = self.insert_top <= 0  # whether the current arrangement is known to have no improving insertion
        starts: list[torch.Tensor] = []

        def rule() -> str | None:
            rules = {
                "floor": loss <= floor,
                "time": ctx.out_of_time(),
                "settled": returns >= self.settle,
                "patience": stale >= patience,
                "improving": 0 < early == steps == len(history) - 1,
                "steps": steps >= max_steps,
            }
            return next((name for name, hit in rules.items() if hit), None)

        while (stop := rule()) is None:
            steps += 1
            found = None
            if not screened:
                predicted = predict_insertions(screen, arr)
                found = best_insertion(ev, arr, loss, self.insert_top, predicted)
                starts = long_insertions(predicted, arr, self.kick_shift, self.long_moves) if not found else []
            if found:
                kind, start = "insertion", found[0]
            elif starts:
                kind, start = "long", starts.pop(0)
            else:
                kind, start = "kick", kick(arr, rng, kick_moves, self.kick_shift)
            trial, trial_loss, _, _ = ctx.descend(ev, start)
            if trial_loss < loss:
                arr, loss, stale = trial, trial_loss, 0
                accepted[kind] += 1
                history.append(loss)
                screened = self.insert_top <= 0
            else:  # arrangement unchanged (an improving insertion's descent always improves)
                stale += 1
                screened = True
                returns += bool(torch.equal(trial, arr))
        if report:
            ctx.stages.append(
                StageReport(
                    "iterated-search",
                    f"{label}insert-top{self.insert_top}+kicks@{ev.n_rows}rows",
                    mse=loss,
                    rounds=steps,
                    swaps=len(history) - 1,
                    evaluations=ev.evaluations - e0 + screen.evaluations - s0,
                    seconds=time.perf_counter() - t0,
                    details={"history": history, "accepted": accepted, "kick_moves": kick_moves, "stop": stop},
                )
            )
        return arr, loss, stop
