"""Local search over block orders and pairings, screened to first order and verified exactly.

A configuration (:class:`~solvers.stages.states.Config`) is two index vectors into a
:class:`BlockStack`: ``ins[t]`` names the input projection and ``outs[t]`` the output projection
at position ``t``. All signals used here are functions of the network's outputs, so they are
invariant to a function-preserving reparametrisation of any block's hidden units.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from reassembly.network import Evaluator
from solvers.stages.states import Config, forward_states, output_jacobians


@dataclass
class SearchLog:
    rounds: int = 0
    swaps: int = 0
    insertions: int = 0
    repairings: int = 0
    exact_swaps: int = 0
    screened: int = 0
    history: list[float] = field(default_factory=list)


def swap_effects(
    ev: Evaluator, cfg: Config, states: torch.Tensor, cached: torch.Tensor | None = None, positions: list[int] | None = None
) -> torch.Tensor:
    """``delta[p]``: change of the state after position ``p + 1`` when positions ``p`` and ``p + 1``
    swap. With ``cached``, only ``positions`` are recomputed (the others keep effects measured at
    slightly older input states, which is close enough to screen with)."""
    s = ev.stack
    D = len(cfg.ins)
    if cached is None or positions is None:
        idx = torch.arange(D - 1)
        delta = torch.empty(D - 1, *states.shape[1:], dtype=states.dtype)
    else:
        idx = torch.tensor(sorted({p for p in positions if 0 <= p < D - 1}), dtype=torch.long)
        delta = cached
        if idx.numel() == 0:
            return delta
    first = s.blocks(cfg.ins[idx + 1], states[idx], cfg.outs[idx + 1])
    delta[idx] = s.blocks(cfg.ins[idx], first, cfg.outs[idx]).sub_(states[idx + 2])
    return delta


def predict_swaps(ev: Evaluator, states: torch.Tensor, J: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """First-order predicted loss after swapping positions ``p`` and ``p + 1``, for every ``p``:
    the state change ``delta[p]`` carried to the output by the Jacobian ``J[p + 2]``."""
    dy = torch.einsum("pnod,pnd->pno", J[2:], delta)
    resid = ev.stack.head(states[-1]) - ev.target  # (n, o)
    return ev.weigh(resid + dy).pow(2).mean(dim=(1, 2))


def apply_swaps(cfg: Config, positions: list[int]) -> Config:
    new = cfg.copy()
    for p in positions:
        new.ins[[p, p + 1]] = new.ins[[p + 1, p]]
        new.outs[[p, p + 1]] = new.outs[[p + 1, p]]
    return new


def disjoint_best(gains: torch.Tensor) -> list[int]:
    """Positions with positive gain, greedily by gain, no two touching the same position."""
    used: set[int] = set()
    chosen = []
    for p in torch.argsort(gains, descending=True).tolist():
        if gains[p] <= 0:
            break
        if p in used or p + 1 in used:
            continue
        chosen.append(p)
        used.update((p, p + 1))
    return chosen


def neighbours(cfg: Config, max_shift: int, repair_candidates: list[tuple[int, int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[str]]:
    """Exact neighbourhood: adjacent swaps, insertions up to ``max_shift`` positions away, re-pairings.

    Returns candidate ``ins``, ``outs`` (``(B, D)``), the first position each differs at, and each move's kind.
    """
    D = len(cfg.ins)
    ins, outs, starts, kinds = [], [], [], []
    perm = torch.arange(D)
    for p in range(D):
        for q in range(max(0, p - max_shift), min(D, p + max_shift + 1)):
            if q == p or (q == p - 1):  # p -> p-1 equals the swap (p-1, p)
                continue
            idx = perm.tolist()
            idx.insert(q, idx.pop(p))
            idx_t = torch.tensor(idx)
            ins.append(cfg.ins[idx_t])
            outs.append(cfg.outs[idx_t])
            starts.append(min(p, q))
            kinds.append("swap" if abs(p - q) == 1 else "insert")
    pos_of = {int(k): t for t, k in enumerate(cfg.ins.tolist())}
    for a, b in repair_candidates:  # give input a the output currently paired with input b
        pa, pb = pos_of.get(a), pos_of.get(b)
        if pa is None or pb is None or pa == pb:
            continue
        new_outs = cfg.outs.clone()
        new_outs[[pa, pb]] = new_outs[[pb, pa]]
        ins.append(cfg.ins.clone())
        outs.append(new_outs)
        starts.append(min(pa, pb))
        kinds.append("repair")
    return torch.stack(ins), torch.stack(outs), torch.tensor(starts), kinds


def exact_best(ev: Evaluator, cfg: Config, states: torch.Tensor, max_shift: int, repair_candidates: list[tuple[int, int]]) -> tuple[float, Config | None, str, int]:
    """Exactly evaluate the whole neighbourhood; the best move's loss, configuration, kind, and the count."""
    ins, outs, starts, kinds = neighbours(cfg, max_shift, repair_candidates)
    losses = ev.suffix_losses(ins, starts, states, outs)
    best = int(torch.argmin(losses))
    return float(losses[best]), Config(ins[best], outs[best]), kinds[best], len(ins)


def _first_improving(
    ev: Evaluator, cfg: Config, states: torch.Tensor, loss: float, moves: list[int], buffer: torch.Tensor
) -> tuple[Config, torch.Tensor, float, list[int]] | None:
    """Apply all swap ``moves`` (best first), then the better half, ..., then the best alone; keep
    the first set that lowers the exact loss. Trial states are written into ``buffer``."""
    while moves:
        trial = apply_swaps(cfg, moves)
        trial_states = forward_states(ev, trial, states, min(moves), out=buffer)
        trial_loss = float(ev.loss(trial_states[-1]))
        if trial_loss < loss:
            return trial, trial_states, trial_loss, moves
        moves = moves[: len(moves) // 2]
    return None


def local_search(
    ev: Evaluator,
    cfg: Config,
    floor: float,
    max_rounds: int = 1000,
    max_shift: int = 3,
    repair_candidates: list[tuple[int, int]] | None = None,
    exact_fallback: bool = True,
    max_exact_moves: int = 20,
) -> tuple[Config, float, SearchLog, dict]:
    """Descend until the loss reaches ``floor`` or no move of the exact neighbourhood improves it.

    Each round screens every adjacent swap to first order from one forward and one backward pass
    and applies the disjoint improving ones at once (backing off to fewer when the exact loss
    disagrees). When no screened move helps, the exact neighbourhood (adjacent swaps,
    insertions within ``max_shift``, re-pairings) is evaluated in batches (unless
    ``exact_fallback`` is off: then the search stops there). After ``max_exact_moves`` moves found
    only by the exact neighbourhood the search stops with a ``budget`` certificate (no claim). Returns the
    configuration, its loss, a log and the certificate.
    """
    repair_candidates = repair_candidates or []
    log = SearchLog()
    states = forward_states(ev, cfg)
    loss = float(ev.loss(states[-1]))
    log.history.append(loss)
    certificate: dict = {"kind": "max-rounds", "loss": loss}
    J, fresh = output_jacobians(ev, cfg, states), True
    delta = swap_effects(ev, cfg, states)
    spare = torch.empty_like(states)
    while log.rounds < max_rounds:
        log.rounds += 1
        if loss <= floor:
            certificate = {"kind": "zero-loss", "loss": loss, "floor": floor}
            break
        certificate = {"kind": "max-rounds", "loss": loss}
        predicted = predict_swaps(ev, states, J, delta)
        log.screened += len(predicted)
        found = _first_improving(ev, cfg, states, loss, disjoint_best(loss - predicted), spare)
        if found is not None:
            spare = states  # double buffering: the old states become the next trial's buffer
            cfg, states, loss, moves = found
            log.swaps += len(moves)
            log.history.append(loss)
            # Only pairs next to a swap changed; other effects and J are slightly stale, which is
            # close enough to screen with. Both are refreshed when screening stops paying off.
            delta = swap_effects(ev, cfg, states, delta, [q for p in moves for q in (p - 1, p, p + 1)])
            fresh = False
            continue
        if not fresh:
            J, fresh = output_jacobians(ev, cfg, states), True
            delta = swap_effects(ev, cfg, states)
            continue
        if not exact_fallback:
            certificate = {"kind": "screen-exhausted", "loss": loss}
            break
        if log.insertions + log.repairings + log.exact_swaps >= max_exact_moves:
            certificate = {"kind": "budget", "loss": loss, "exact_moves": max_exact_moves}
            break
        best_loss, best_cfg, kind, count = exact_best(ev, cfg, states, max_shift, repair_candidates)
        if best_loss >= loss or best_cfg is None:
            certificate = {
                "kind": "local-optimum",
                "loss": loss,
                "best_neighbour_loss": best_loss,
                "neighbourhood": f"adjacent swaps, insertions within {max_shift}, {len(repair_candidates)} re-pairings",
                "moves_checked": count,
            }
            break
        cfg = best_cfg
        states = forward_states(ev, cfg)
        loss = float(ev.loss(states[-1]))
        log.history.append(loss)
        J, fresh = output_jacobians(ev, cfg, states), True
        delta = swap_effects(ev, cfg, states)
        if kind == "swap":
            log.swaps += 1
            log.exact_swaps += 1
        elif kind == "insert":
            log.insertions += 1
        else:
            log.repairings += 1
    return cfg, loss, log, certificate
