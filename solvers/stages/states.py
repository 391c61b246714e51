"""Configurations (an order plus a pairing) and what one pass over them gives: prefix states,
the loss on all rows, and the output Jacobian of every prefix state."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from reassembly.network import Evaluator


@dataclass
class Config:
    """``ins[t]``/``outs[t]``: stack indices of the input/output projection at position ``t``."""

    ins: torch.Tensor
    outs: torch.Tensor

    def copy(self) -> Config:
        return Config(self.ins.clone(), self.outs.clone())

    def same_as(self, other: Config) -> bool:
        """Whether ``other`` is the same order with the same pairing."""
        return torch.equal(self.ins, other.ins) and torch.equal(self.outs, other.outs)


def forward_states(
    ev: Evaluator, cfg: Config, states: torch.Tensor | None = None, start: int = 0, out: torch.Tensor | None = None
) -> torch.Tensor:
    """Prefix states ``(D + 1, n, d)`` of ``cfg``; with ``states`` of a configuration that agrees
    with ``cfg`` before position ``start``, only positions from ``start`` on are recomputed.
    ``out`` is a buffer to reuse (it may be ``states`` itself only when those may be overwritten)."""
    s = ev.stack
    D = len(cfg.ins)
    if out is None:
        out = torch.empty(D + 1, *ev.X.shape, dtype=ev.X.dtype)
    if states is None or start == 0:
        out[0] = ev.X
        start = 0
    elif out is not states:
        out[: start + 1] = states[: start + 1]
    act = torch.empty(ev.X.shape[0], s.w_in.shape[1], dtype=ev.X.dtype)
    w_in, b_in, w_out, b_out = s.layers
    for t, (i, o) in enumerate(zip(cfg.ins.tolist()[start:], cfg.outs.tolist()[start:]), start):
        torch.addmm(b_in[i], out[t], w_in[i], out=act).relu_()
        torch.addmm(out[t], act, w_out[o], out=out[t + 1]).add_(b_out[o])
    ev.evaluations += 1
    return out


def config_loss(ev: Evaluator, cfg: Config, chunk: int = 2048) -> float:
    """MSE of ``cfg`` on all of ``ev``'s rows (plain: ``ev``'s metric, if any, is not applied),
    streamed in row chunks without keeping states
    (cache-friendly: the final all-rows check costs about two thirds of :func:`forward_states`)."""
    s = ev.stack
    w_in, b_in, w_out, b_out = s.layers
    ins, outs = cfg.ins.tolist(), cfg.outs.tolist()
    total = 0.0
    for start in range(0, ev.X.shape[0], chunk):
        h = ev.X[start : start + chunk]
        for i, o in zip(ins, outs):
            a = torch.addmm(b_in[i], h, w_in[i]).relu_()
            h = torch.addmm(h, a, w_out[o]).add_(b_out[o])
        total += float((s.head(h) - ev.target[start : start + chunk]).pow(2).sum())
    ev.evaluations += 1
    return total / ev.target.numel()


def output_jacobians(ev: Evaluator, cfg: Config, states: torch.Tensor) -> torch.Tensor:
    """``J[t]`` ``(D + 1, n, o, d)``: Jacobian of the network output with respect to the state entering position ``t``."""
    s = ev.stack
    D, n = len(cfg.ins), states.shape[1]
    o, d = s.w_last.shape
    masks = torch.baddbmm(s.b_in[cfg.ins].unsqueeze(1), states[:-1], s.w_in[cfg.ins].transpose(1, 2)) > 0
    masks = masks.to(states.dtype)
    if o > 1:
        masks = masks.repeat_interleave(o, dim=1)  # (D, n*o, h), rows ordered (row, output)
    J = torch.empty(D + 1, n * o, d, dtype=states.dtype)
    J[D] = s.w_last.repeat(n, 1)
    for t in range(D - 1, -1, -1):
        inner = (J[t + 1] @ s.w_out[cfg.outs[t]]).mul_(masks[t])
        torch.addmm(J[t + 1], inner, s.w_in[cfg.ins[t]], out=J[t])
    return J.view(D + 1, n, o, d)
