"""What the parts of ``fast`` share during one solve: the descent, the loss floor, the regrouping
moves, the stage reports and the random streams."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from reassembly.kernel import Evaluator
from reassembly.solver import StageReport
from solvers.fast.descent import Descent, SearchLog


@dataclass
class Context:
    """One solve's shared state.

    ``floor`` is relative to the mean squared target (a loss under ``floor * mean(target²)``
    counts as zero: float rounding); ``exchanges`` are the slot pairs whose pieces the descent may
    exchange between or within blocks; past ``deadline`` searches stop at their next step.
    """

    descent: Descent
    floor: float
    exchanges: list[tuple[int, int]]
    random_state: int
    stages: list[StageReport] = field(default_factory=list)
    deadline: float | None = None  # ``time.perf_counter()`` value by which the search must stop
    final: float | None = None  # ... and by which certifying must stop too (the answer is returned then)

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.perf_counter() >= self.deadline

    def past_final(self) -> bool:
        return self.final is not None and time.perf_counter() >= self.final

    def floor_of(self, ev: Evaluator) -> float:
        return self.floor * float(ev.target.pow(2).mean())

    def descend(
        self, ev: Evaluator, arr: torch.Tensor, exact: bool = False
    ) -> tuple[torch.Tensor, float, SearchLog, dict]:
        """One descent on ``ev``'s rows (regrouping moves included)."""
        return self.descent.run(ev, arr, self.floor_of(ev), self.exchanges, exact, self.out_of_time)

    def rng(self, offset: int = 0) -> np.random.Generator:
        return np.random.default_rng(self.random_state + offset)
