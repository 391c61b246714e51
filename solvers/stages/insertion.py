"""Long-range insertion moves (take one block out, put it back anywhere), screened to first order.

Moving the block at position ``k`` to just before position ``t`` changes the output by about
``J_t f_k(x_t) - J_{k+1} f_k(x_k)``: the branch added at the new place minus the branch removed at
the old one, each carried to the output by the output Jacobian of the state it enters (``x_t`` is
the input of position ``t`` in the current order). One pass over all ``(k, t)`` costs ``D²`` block
applications on a small row sample; the best predictions are then verified exactly.
"""
from __future__ import annotations

import torch

from reassembly.network import Evaluator
from solvers.stages.states import Config, forward_states, output_jacobians


def insertion_order(D: int, k: int, t: int) -> list[int]:
    """Positions of the order after moving position ``k`` to just before position ``t`` (``t == D``: the end)."""
    order = list(range(D))
    order.pop(k)
    order.insert(t if t < k else t - 1, k)
    return order


def insertion_effect(
    ev: Evaluator, cfg: Config, states: torch.Tensor, J: torch.Tensor, k: int, ts: torch.Tensor | None = None
) -> torch.Tensor:
    """First-order output change ``(len(ts), n, o)`` of moving position ``k`` to just before each
    position in ``ts`` (``None``: every position ``0..D``), from the prefix ``states`` and output
    Jacobians ``J`` of ``cfg``: the branch added at the new place minus the one removed."""
    s = ev.stack
    at = states if ts is None else states[ts]
    ks, outs = cfg.ins[k].expand(len(at)), cfg.outs[k].expand(len(at))
    added = torch.einsum("tnod,tnd->tno", J if ts is None else J[ts], s.blocks(ks, at, outs).sub_(at))
    own = s.blocks(cfg.ins[k : k + 1], states[k : k + 1], cfg.outs[k : k + 1]).sub_(states[k : k + 1])
    return added.sub_(torch.einsum("nod,nd->no", J[k + 1], own[0]))


def predict_insertions(ev: Evaluator, cfg: Config) -> torch.Tensor:
    """First-order predicted loss ``(D, D + 1)`` of moving position ``k`` before position ``t``;
    ``inf`` where the move changes nothing (``t`` in ``{k, k + 1}``)."""
    D = len(cfg.ins)
    states = forward_states(ev, cfg)
    J = output_jacobians(ev, cfg, states)  # (D + 1, n, o, d)
    resid = ev.stack.head(states[-1]) - ev.target  # (n, o)
    predicted = torch.full((D, D + 1), float("inf"), dtype=states.dtype)
    for k in range(D):
        loss = ev.weigh(resid + insertion_effect(ev, cfg, states, J, k)).pow(2).mean(dim=(1, 2))
        loss[k] = loss[k + 1] = float("inf")
        predicted[k] = loss
    return predicted


def best_insertion(
    ev: Evaluator, screen: Evaluator, cfg: Config, loss: float, top: int, predicted: torch.Tensor | None = None
) -> tuple[Config, float] | None:
    """Screen every insertion on ``screen``'s rows (or take the screen's ``predicted`` losses),
    verify the ``top`` best exactly on ``ev``'s rows, and return the best verified configuration
    if it beats ``loss``."""
    D = len(cfg.ins)
    predicted = (predict_insertions(screen, cfg) if predicted is None else predicted).flatten()
    ranked = torch.argsort(predicted)[:top].tolist()
    moves = [divmod(m, D + 1) for m in ranked if torch.isfinite(predicted[m])]
    if not moves:
        return None
    idx = torch.tensor([insertion_order(D, k, t) for k, t in moves])
    states = forward_states(ev, cfg)
    losses = ev.suffix_losses(cfg.ins[idx], torch.tensor([min(k, t) for k, t in moves]), states, cfg.outs[idx])
    best = int(torch.argmin(losses))
    if float(losses[best]) >= loss:
        return None
    return Config(cfg.ins[idx[best]], cfg.outs[idx[best]]), float(losses[best])


def long_insertions(predicted: torch.Tensor, cfg: Config, min_shift: int, count: int) -> list[Config]:
    """The configurations after the ``count`` best screened long-range insertions, best first:
    each block's best predicted move of more than ``min_shift`` places, one move per block, ranked
    by predicted loss (``predicted``: :func:`predict_insertions`). Starts for descents: a block far
    from its place may only pay once its neighbourhood has re-settled around it."""
    D = len(cfg.ins)
    gap = torch.arange(D + 1) - torch.arange(D).unsqueeze(1)  # t - k
    shift = torch.where(gap > 0, gap - 1, -gap)  # places the block moves: to t - 1 when later
    far = predicted.masked_fill(shift <= min_shift, float("inf"))
    best, target = far.min(dim=1)
    ranked = [k for k in torch.argsort(best).tolist()[:count] if torch.isfinite(best[k])]
    idx = [torch.tensor(insertion_order(D, k, int(target[k]))) for k in ranked]
    return [Config(cfg.ins[i], cfg.outs[i]) for i in idx]
