"""Doubting the grouping: the least confident groups exchange their write pieces, two at a time."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

import numpy as np
import torch

from reassembly.kernel import Evaluator
from reassembly.params import Configurable, Interval
from reassembly.solver import StageReport
from solvers.fast.context import Context

Search = Callable[[torch.Tensor, str], tuple[torch.Tensor, float]]


class Regroup(Configurable):
    """Question the ``weakest`` least confident groups (lowest grouping score).

    Every exchange of write pieces among them is evaluated in place (one batched pass); those
    within ``ratio`` times the current loss get a descent. Quick (before the main search, while the
    order is still rough and a wrong regrouping can fit it better): only the candidate best in
    place gets a descent, kept only where it reaches the floor (then the regrouping is right).
    Full: the best descended candidate, where it already beats the current loss, gets an iterated
    search; the result replaces the current arrangement only where its loss is lower.

    Parameters
    ----------
    weakest
        Least confident groups whose write pieces are exchanged pairwise (below 2: off).
    ratio
        Candidates whose loss in place is within this factor of the current loss get a descent.
    """

    constraints = {"weakest": Interval(0, None), "ratio": Interval(1, None)}

    def __init__(self, weakest: int = 4, ratio: float = 10.0) -> None:
        self.weakest = weakest
        self.ratio = ratio

    def run(
        self,
        ctx: Context,
        ev: Evaluator,
        arr: torch.Tensor,
        loss: float,
        anchors: list[int],
        anchor: int,
        write: int,
        search: Search | None = None,
    ) -> torch.Tensor:
        """Regroup ``arr`` (loss ``loss`` on ``ev``'s rows). ``anchors``: anchor pool rows of the
        groups, least confident first; ``anchor``/``write``: those slots' columns. ``search``
        (``(arr, label) -> (arr, loss)``) makes the full version; without, quick."""
        t0, e0 = time.perf_counter(), ev.evaluations
        floor = ctx.floor_of(ev)
        pos = {int(a): t for t, a in enumerate(arr[:, anchor].tolist())}
        pairs = list(itertools.combinations(anchors[: self.weakest], 2))
        if not pairs:
            return arr
        cands = arr.repeat(len(pairs), 1, 1)
        for row, (a, b) in enumerate(pairs):
            p, q = pos[a], pos[b]
            cands[row, p, write], cands[row, q, write] = arr[q, write], arr[p, write]
        starts = torch.tensor([min(pos[a], pos[b]) for a, b in pairs])
        raw = ev.suffix_losses(cands, starts, ev.states(arr)).tolist()
        plausible = [row for row in np.argsort(raw).tolist() if raw[row] < self.ratio * loss]
        quick = search is None
        tried = {row: ctx.descend(ev, cands[row])[:2] for row in plausible[: 1 if quick else None]}
        best = min(tried.items(), key=lambda item: item[1][1]) if tried else None
        ctx.stages.append(
            StageReport(
                "regroup",
                f"{'quick-' if quick else ''}{len(pairs)}-exchanges@{ev.n_rows}rows",
                mse=best[1][1] if best else min(raw),
                rounds=len(tried),
                evaluations=ev.evaluations - e0,
                seconds=time.perf_counter() - t0,
                details={
                    "in_place": {f"{a},{b}": r for (a, b), r in zip(pairs, raw)},
                    "descended": {f"{pairs[row][0]},{pairs[row][1]}": v[1] for row, v in tried.items()},
                },
            )
        )
        if best is None:
            return arr
        row, (trial, trial_loss) = best
        if quick:
            return trial if trial_loss <= floor else arr
        if floor < trial_loss < loss:  # search on only where the regrouping already pays off
            a, b = pairs[row]
            trial, trial_loss = search(trial, f"regrouped({a},{b}) ")
        return trial if trial_loss < loss else arr
