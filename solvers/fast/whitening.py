"""A whitened loss: the same global optimum as the MSE, without its deceptive local optima.

On a deep net with one output, the output changes of the local moves (one block moved a few
places) are nearly collinear as functions of the rows: at depth 128 one direction in row space
holds about 84 % of their variance. Errors left by different misplacements then cancel along it,
so the MSE has many local optima where misplacements compensate each other. Measuring the error
in the metric that whitens the moves' output changes, ``mean((L e)²)`` with ``L = (C + λI)^(-1/2)``
and ``C`` their row covariance (normalised to unit mean eigenvalue), weighs every move direction
alike: the true order still has zero loss, but compensations no longer pay.

The iterated search on the MSE is interleaved with short *attempts* on the whitened loss: after
every ``every`` steps (or after the first ``early`` steps of a segment where each lowered the MSE),
an iterated search of ``kicks`` steps on the whitened loss, then an MSE descent from where it
ends; kept where the MSE falls, and repeated while each attempt lowers it by more than
``stall_gain``. A segment that gains less than that doubles the next segment's kicks.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from reassembly.kernel import Evaluator
from reassembly.kernel.screens import insertion_effect
from reassembly.params import Configurable, Interval
from reassembly.solver import StageReport
from solvers.fast.context import Context
from solvers.fast.search import IteratedSearch


def insertion_effects(ev: Evaluator, arr: torch.Tensor, window: int) -> torch.Tensor:
    """First-order output changes ``(K, n, o)`` of every insertion moving one block at most ``window`` places."""
    D = arr.shape[0]
    states = ev.states(arr)
    J = ev.jacobians(arr, states)
    effects = []
    for k in range(D):
        ts = torch.tensor([t for t in range(max(0, k - window), min(D, k + 1 + window) + 1) if t not in (k, k + 1)])
        effects.append(insertion_effect(ev, arr, states, J, k, ts))
    return torch.cat(effects)


def whitening_metric(ev: Evaluator, arr: torch.Tensor, window: int, lam: float) -> torch.Tensor:
    """``(n, n)`` metric ``(C + λI)^(-1/2)``: ``C`` is the row covariance of the insertion effects
    of ``arr`` (several outputs pooled), scaled to unit mean eigenvalue; ``lam`` bounds how much a
    rarely moved direction can weigh."""
    n = ev.n_rows
    V = insertion_effects(ev, arr, window).double().transpose(1, 2).reshape(-1, n)
    C = V.T @ V
    C = C / (C.trace() / n)
    evals, evecs = torch.linalg.eigh(C)
    return ((evecs * (evals.clamp(min=0) + lam).rsqrt()) @ evecs.T).to(ev.X.dtype)


def whitened(ev: Evaluator, arr: torch.Tensor, window: int, lam: float) -> Evaluator:
    """An evaluator on ``ev``'s rows whose loss is the whitened one at ``arr``."""
    metric = whitening_metric(ev, arr, window, lam)
    return ev.with_rows(ev.X, ev.target, lambda err: metric @ err)


class Whitening(Configurable):
    """Attempts on the whitened loss, interleaved with the iterated search (module docstring).

    Parameters
    ----------
    strength
        ``λ``, the regularisation of the metric (0 turns attempts off).
    window
        Insertions of at most this many places make up the covariance ``C``.
    every
        Iterated-search steps between attempts.
    early
        An attempt comes after this many steps where each of them lowered the MSE (0: never early).
    kicks
        Steps of the whitened iterated search in one attempt.
    stall_gain
        Relative MSE gain below which attempts stop repeating and kicks grow.
    """

    constraints = {
        "strength": Interval(0, None),
        "window": Interval(1, None),
        "every": Interval(1, None),
        "early": Interval(0, None),
        "kicks": Interval(0, None),
        "stall_gain": Interval(0, 1),
    }

    def __init__(
        self,
        strength: float = 1e-2,
        window: int = 10,
        every: int = 10,
        early: int = 3,
        kicks: int = 5,
        stall_gain: float = 0.05,
    ) -> None:
        self.strength = strength
        self.window = window
        self.every = every
        self.early = early
        self.kicks = kicks
        self.stall_gain = stall_gain

    def attempt(
        self,
        ctx: Context,
        search: IteratedSearch,
        ev: Evaluator,
        arr: torch.Tensor,
        loss: float,
        rng: np.random.Generator,
        label: str = "",
    ) -> tuple[torch.Tensor, float]:
        """One attempt from ``arr`` (MSE ``loss`` on ``ev``'s rows): returns the arrangement it ends
        on and its MSE (the caller keeps it only where that is lower)."""
        t0, e0 = time.perf_counter(), ev.evaluations
        final, w_evals = loss, 0
        if self.kicks > 0 and loss > ctx.floor_of(ev):
            w = whitened(ev, arr, self.window, self.strength)
            screen = whitened(
                ev.with_rows(ev.X[: search.screen_rows], ev.target[: search.screen_rows]),
                arr,
                self.window,
                self.strength,
            )
            arr = search.run(ctx, w, arr, screen, self.kicks, 10, rng, report=False)[0]
            arr, final, _, _ = ctx.descend(ev, arr)  # settle on the MSE before comparing
            w_evals = w.evaluations + screen.evaluations
        ctx.stages.append(
            StageReport(
                "whitened-search",
                f"{label}lambda{self.strength:g}-window{self.window}@{ev.n_rows}rows",
                mse=final,
                rounds=1,
                evaluations=ev.evaluations - e0 + w_evals,
                seconds=time.perf_counter() - t0,
            )
        )
        return arr, final

    def search(
        self,
        ctx: Context,
        search: IteratedSearch,
        ev: Evaluator,
        arr: torch.Tensor,
        patience: int | None = None,
        max_steps: int | None = None,
        label: str = "",
    ) -> tuple[torch.Tensor, float]:
        """The iterated search on the MSE, interleaved with attempts. Stops at the floor, once the
        search settles, after ``patience`` steps without improvement (attempts included), or after
        ``max_steps`` (default: the search's ``steps``) steps in all."""
        D = arr.shape[0]
        floor = ctx.floor_of(ev)
        loss = float(ev.loss(ev.states(arr)[-1]))
        steps_left = search.steps if max_steps is None else max_steps
        patience = search.patience_for(D) if patience is None else patience
        on = self.strength > 0
        segment = self.every if on else steps_left
        rng, attempt_rng = ctx.rng(), ctx.rng(1)
        screen = ev.with_rows(ev.X[: search.screen_rows], ev.target[: search.screen_rows])
        stale, stalled = 0, 0  # steps since the last improvement; segments in a row that gained < stall_gain
        while True:
            start_loss = loss
            moves = min(search.kick_moves << stalled, max(search.kick_moves, D // 2))
            found, found_loss, stop = search.run(
                ctx,
                ev,
                arr,
                screen,
                min(segment, steps_left),
                patience - stale,
                rng,
                moves,
                self.early if on else 0,
                label,
            )
            rounds = ctx.stages[-1].rounds
            steps_left -= rounds
            stale = 0 if found_loss < loss else stale + rounds
            arr, loss = found, found_loss
            if stop not in ("steps", "improving") or steps_left <= 0 or not on or ctx.out_of_time():
                return arr, loss
            while True:  # attempts in a row while each lowers the MSE by more than ``stall_gain``
                trial, trial_loss = self.attempt(ctx, search, ev, arr, loss, attempt_rng, label)
                gained = trial_loss < (1 - self.stall_gain) * loss
                if trial_loss < loss:
                    arr, loss, stale = trial, trial_loss, 0
                    if loss <= floor:
                        return arr, loss
                if not gained or ctx.out_of_time():
                    break
            stalled = stalled + 1 if loss > (1 - self.stall_gain) * start_loss else 0
