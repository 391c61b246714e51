"""The gated MLP block of Llama-family models: ``x + down(silu(gate(x)) * up(x))``, no biases.

``gate`` and ``up`` have the same shape, so shapes cannot tell them apart: which of a block's two
``(h, d)`` pieces is the gate is part of the puzzle.
"""

from __future__ import annotations

import torch

from reassembly.families.base import BlockFamily, Params, Slot, Tensor, linear, linear_residual, linear_vjp
from reassembly.families.mlp import _silu_grad


class SwiGLUFamily(BlockFamily):
    name = "swiglu"
    slots = (
        Slot("gate", ("h", "d"), bias=False, role="read", hidden_axis=0),
        Slot("up", ("h", "d"), bias=False, role="read", hidden_axis=0),
        Slot("down", ("d", "h"), bias=False, role="write", hidden_axis=1),
    )
    anchor = "down"
    rescaling = {"up": 1, "down": -1}  # silu(g) * (s u) then down / s
    description = "x + down(silu(gate(x)) * up(x)) without biases, then a linear head"

    def branch(self, p: Params, h: Tensor) -> Tensor:
        return linear(self._inner(p, h), p["down"])

    def block(self, p: Params, h: Tensor, out: Tensor | None = None) -> Tensor:
        return linear_residual(h, self._inner(p, h), p["down"], out)

    @staticmethod
    def _inner(p: Params, h: Tensor) -> Tensor:
        return torch.nn.functional.silu(linear(h, p["gate"]), inplace=True).mul_(linear(h, p["up"]))

    def branch_vjp(self, p: Params, h: Tensor, c: Tensor) -> Tensor:
        zg, zu = linear(h, p["gate"]).unsqueeze(-2), linear(h, p["up"]).unsqueeze(-2)
        ca = linear_vjp(c, p["down"])
        return linear_vjp(ca * zu * _silu_grad(zg), p["gate"]) + linear_vjp(ca * torch.nn.functional.silu(zg), p["up"])
