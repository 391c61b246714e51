"""The descent: screened parallel local search, verified exactly.

Each round screens every adjacent swap to first order from one forward and one backward pass and
applies the disjoint improving ones at once, backing off to fewer where the exact loss disagrees.
Where swaps stall, exchanges of pieces that weight scores cannot place (a norm gain between
blocks; two same-shaped read pieces) are screened the same way. Optionally, the exact neighbourhood
(adjacent swaps and insertions within ``max_shift``) follows, which is what a ``local-optimum``
certificate speaks of.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from reassembly.kernel import Evaluator
from reassembly.kernel.screens import predict_exchanges, predict_swaps, swap_effects
from reassembly.params import Configurable, Interval
from solvers.fast.moves import apply_exchanges, apply_swaps, disjoint_best, neighbours


@dataclass
class SearchLog:
    rounds: int = 0
    swaps: int = 0
    exchanges: int = 0
    exact_moves: int = 0
    history: list[float] = field(default_factory=list)


def _first_improving(
    ev: Evaluator,
    arr: torch.Tensor,
    states: torch.Tensor,
    loss: float,
    moves: list,
    apply: Callable[[torch.Tensor, list], torch.Tensor],
    start: Callable[[list], int],
    buffer: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, float, list] | None:
    """Apply all ``moves`` (best first), then the better half, ..., then the best alone; keep the
    first set that lowers the exact loss. Trial states are written into ``buffer``."""
    while moves:
        trial = apply(arr, moves)
        trial_states = ev.states(trial, states, start(moves), out=buffer)
        trial_loss = float(ev.loss(trial_states[-1]))
        if trial_loss < loss:
            return trial, trial_states, trial_loss, moves
        moves = moves[: len(moves) // 2]
    return None


def exchange_moves(
    ev: Evaluator, arr: torch.Tensor, states: torch.Tensor, J: torch.Tensor, loss: float, pairs: list[tuple[int, int]]
) -> list[tuple[int, int, int, int]]:
    """Disjoint exchanges ``(p, q, s, t)`` predicted to lower ``loss``, best first (no position used twice)."""
    scored = []
    for s, t in pairs:
        predicted = predict_exchanges(ev, arr, states, J, s, t)
        for p, q in torch.nonzero(predicted < loss).tolist():
            if s == t and q < p:
                continue  # the same exchange as (q, p)
            scored.append((float(loss - predicted[p, q]), (p, q, s, t)))
    chosen, used = [], set()
    for _, (p, q, s, t) in sorted(scored, reverse=True):
        if p not in used and q not in used:
            chosen.append((p, q, s, t))
            used.update((p, q))
    return chosen


class Descent(Configurable):
    """Screened parallel descent (see the module docstring).

    Parameters
    ----------
    max_shift
        Insertions within this many positions make up the exact neighbourhood (with adjacent swaps).
    max_rounds
        Most rounds of one descent.
    exact_moves
        Moves found only by the exact neighbourhood after which a descent stops (a ``budget`` stop).
    """

    constraints = {"max_shift": Interval(1, None), "max_rounds": Interval(1, None), "exact_moves": Interval(0, None)}

    def __init__(self, max_shift: int = 2, max_rounds: int = 1000, exact_moves: int = 20) -> None:
        self.max_shift = max_shift
        self.max_rounds = max_rounds
        self.exact_moves = exact_moves

    def run(
        self,
        ev: Evaluator,
        arr: torch.Tensor,
        floor: float,
        exchanges: list[tuple[int, int]] | None = None,
        exact: bool = False,
        out_of_time: Callable[[], bool] | None = None,
    ) -> tuple[torch.Tensor, float, SearchLog, dict]:
        """Descend from ``arr`` until the loss reaches ``floor`` or no screened move (and, with
        ``exact``, no move of the exact neighbourhood) improves it, or ``out_of_time()`` says so.
        ``exchanges``: slot pairs ``(s, t)`` whose pieces may be exchanged. Returns the arrangement, its loss, a log and a
        certificate (``zero-loss``, ``local-optimum``, ``screen-exhausted``, ``budget``, ``max-rounds``,
        ``time-limit``)."""
        log = SearchLog()
        states = ev.states(arr)
        loss = float(ev.loss(states[-1]))
        log.history.append(loss)
        certificate: dict = {"kind": "max-rounds", "loss": loss}
        J, fresh = ev.jacobians(arr, states), True
        delta = swap_effects(ev, arr, states)
        spare = torch.empty_like(states)
        while log.rounds < self.max_rounds:
            log.rounds += 1
            if loss <= floor:
                certificate = {"kind": "zero-loss", "loss": loss, "floor": floor}
                break
            if out_of_time is not None and out_of_time():
                certificate = {"kind": "time-limit", "loss": loss}
                break
            certificate = {"kind": "max-rounds", "loss": loss}
            found = _first_improving(
                ev,
                arr,
                states,
                loss,
                disjoint_best(loss - predict_swaps(ev, states, J, delta)),
                apply_swaps,
                min,
                spare,
            )
            if found is not None:
                spare = states  # double buffering: the old states become the next trial's buffer
                arr, states, loss, moves = found
                log.swaps += len(moves)
                log.history.append(loss)
                # Only pairs next to a swap changed; other effects and J are slightly stale, close
                # enough to screen with. Both are refreshed when screening stops paying off.
                delta = swap_effects(ev, arr, states, delta, [q for p in moves for q in (p - 1, p, p + 1)])
                fresh = False
                continue
            if not fresh:
                J, fresh = ev.jacobians(arr, states), True
                delta = swap_effects(ev, arr, states)
                continue
            if exchanges:
                moves = exchange_moves(ev, arr, states, J, loss, exchanges)
                found = _first_improving(
                    ev, arr, states, loss, moves, apply_exchanges, lambda ms: min(min(p, q) for p, q, _, _ in ms), spare
                )
                if found is not None:
                    spare = states
                    arr, states, loss, moves = found
                    log.exchanges += len(moves)
                    log.history.append(loss)
                    J, fresh = ev.jacobians(arr, states), True
                    delta = swap_effects(ev, arr, states)
                    continue
            if not exact:
                certificate = {"kind": "screen-exhausted", "loss": loss}
                break
            if log.exact_moves >= self.exact_moves:
                certificate = {"kind": "budget", "loss": loss, "exact_moves": self.exact_moves}
                break
            cands, starts, kinds = neighbours(arr, self.max_shift)
            losses = ev.suffix_losses(cands, starts, states)
            best = int(torch.argmin(losses))
            if float(losses[best]) >= loss:
                certificate = {
                    "kind": "local-optimum",
                    "loss": loss,
                    "best_neighbour_loss": float(losses[best]),
                    "neighbourhood": f"adjacent swaps, insertions within {self.max_shift}",
                    "moves_checked": len(cands),
                }
                break
            arr = cands[best]
            states = ev.states(arr)
            loss = float(ev.loss(states[-1]))
            log.history.append(loss)
            log.exact_moves += 1
            log.swaps += kinds[best] == "swap"
            J, fresh = ev.jacobians(arr, states), True
            delta = swap_effects(ev, arr, states)
        return arr, loss, log, certificate
