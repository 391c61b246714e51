"""Repair: the paper's bubble repair (adjacent-swap hill climbing until a sweep makes no swap)."""
from __future__ import annotations

from dataclasses import dataclass, field

from reassembly.network import Evaluator


@dataclass
class RepairLog:
    """Per-round swaps and MSE (round 0 is the starting order)."""

    rounds: list[dict] = field(default_factory=list)

    @property
    def swaps(self) -> int:
        return sum(r["swaps"] for r in self.rounds)


def bubble_repair(evaluator: Evaluator, order: list[int], max_rounds: int = 500) -> tuple[list[int], RepairLog]:
    """Sweep the adjacent pairs left to right, keep a swap where it lowers the MSE; repeat until a
    whole sweep keeps none. Each trial reruns only the suffix from the cached prefix state."""
    stack = evaluator.stack
    order = list(order)
    D = len(order)
    states = list(evaluator.states(order))
    loss = float(evaluator.loss(states[-1]))
    log = RepairLog([{"round": 0, "swaps": 0, "mse": loss}])
    for rnd in range(1, max_rounds + 1):
        swaps = 0
        for p in range(D - 1):
            trial = order[:p] + [order[p + 1], order[p]] + order[p + 2 :]
            h = states[p]
            new_states = []
            for t in range(p, D):
                h = stack.block(trial[t], h)
                new_states.append(h)
            evaluator.evaluations += 1
            new_loss = float(evaluator.loss(h))
            if new_loss < loss:
                order, loss = trial, new_loss
                states[p + 1 :] = new_states
                swaps += 1
        log.rounds.append({"round": rnd, "swaps": swaps, "mse": loss})
        if swaps == 0:
            break
    return order, log
