"""The puzzle's architecture as a torch module, and its disassembly into linear pieces."""
from __future__ import annotations

import torch
from torch import nn


class Block(nn.Module):
    """``x + out(relu(inp(x)))``."""

    def __init__(self, width: int, hidden: int) -> None:
        super().__init__()
        self.inp = nn.Linear(width, hidden)
        self.out = nn.Linear(hidden, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.out(torch.relu(self.inp(x)))


class ResNet(nn.Module):
    """``depth`` blocks then a last linear layer, with PyTorch's default initialisation."""

    def __init__(self, depth: int, width: int, hidden: int, output: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(Block(width, hidden) for _ in range(depth))
        self.last = nn.Linear(width, output)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.last(x)

    def layers(self) -> list[nn.Linear]:
        """Linear layers in network order: inp_0, out_0, inp_1, ..., last (the answer's order)."""
        return [layer for b in self.blocks for layer in (b.inp, b.out)] + [self.last]


def build_model(depth: int, width: int, hidden: int, output: int, seed: int, init: str = "default") -> ResNet:
    """A freshly initialised model (PyTorch's default initialisation; ``init="zero-residual"`` then
    zeroes every block's output projection, weight and bias). The global RNG is left untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ResNet(depth, width, hidden, output)
    if init == "zero-residual":
        with torch.no_grad():
            for block in model.blocks:
                block.out.weight.zero_()
                block.out.bias.zero_()
    return model
