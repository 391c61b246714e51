"""A trainable network of any block family, written against the family's forward (no second copy
of it), and its disassembly into pieces."""

from __future__ import annotations

import math

import torch
from torch import nn

from reassembly.families.base import BlockFamily, Params, Slot, SlotParams


class SlotGroup(nn.Module):
    """The pieces of one block (or of the head): a weight, and a bias where the slot has one."""

    def __init__(self, slots: tuple[Slot, ...], sizes: dict[str, int]) -> None:
        super().__init__()
        self.names = tuple(s.name for s in slots)
        self.weight = nn.ParameterDict()
        self.bias = nn.ParameterDict()
        for s in slots:  # the order of random draws matches torch.nn.Linear's, slot by slot
            w = torch.empty(s.dims(sizes))
            if s.role == "scale":
                nn.init.ones_(w)
            else:
                nn.init.kaiming_uniform_(w, a=math.sqrt(5))
            self.weight[s.name] = nn.Parameter(w)
            if s.bias:
                bound = 1 / math.sqrt(w.shape[1]) if w.ndim == 2 and w.shape[1] > 0 else 0.0
                self.bias[s.name] = nn.Parameter(torch.empty(w.shape[0]).uniform_(-bound, bound))

    def params(self) -> Params:
        return {n: SlotParams(self.weight[n], self.bias[n] if n in self.bias else None) for n in self.names}


class FamilyNet(nn.Module):
    """``depth`` blocks of ``family`` then its head, initialised as :class:`torch.nn.Linear` layers
    are (norm gains at 1)."""

    def __init__(self, family: BlockFamily, depth: int, sizes: dict[str, int]) -> None:
        super().__init__()
        self.family = family
        self.sizes = dict(sizes)
        self.blocks = nn.ModuleList(SlotGroup(family.slots, sizes) for _ in range(depth))
        self.head = SlotGroup(family.head_slots, sizes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = x + self.family.branch(block.params(), x)
        return self.family.head(self.head.params(), x)

    def groups(self) -> list[SlotGroup]:
        return [*self.blocks, self.head]

    def pieces(self) -> list[SlotParams]:
        """Every piece in network order (block by block in slot order, then the head), detached float32 copies."""
        out = []
        for group in self.groups():
            for p in group.params().values():
                out.append(
                    SlotParams(
                        p.weight.detach().float().clone(), None if p.bias is None else p.bias.detach().float().clone()
                    )
                )
        return out


def build_model(family: BlockFamily, depth: int, sizes: dict[str, int], seed: int, init: str = "default") -> FamilyNet:
    """A freshly initialised model; ``init="zero-residual"`` zeroes every block's write pieces
    (each block starts as the identity). The global random state is left untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = FamilyNet(family, depth, sizes)
    if init == "zero-residual":
        with torch.no_grad():
            for block in model.blocks:
                for s in family.slots:
                    if s.role == "write":
                        block.weight[s.name].zero_()
                        if s.name in block.bias:
                            block.bias[s.name].zero_()
    return model
