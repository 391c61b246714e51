"""A toy block family from outside: ``x + out(tanh(inp(x)))``."""

from __future__ import annotations

import torch

from reassembly.families.mlp import MLPFamily


class TanhFamily(MLPFamily):
    def __init__(self) -> None:
        self.name = self.activation = "tanh"
        self.act = torch.tanh
        self.act_grad = lambda z: 1 - torch.tanh(z) ** 2
        self.rescaling = {}
        self.description = "x + out(tanh(inp(x))), then a linear head"
