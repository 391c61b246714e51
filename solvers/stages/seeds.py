"""Seed orderings: a rough first order of the paired blocks, as indices into a BlockStack.

Each key sorts the blocks ascending; the ``-reversed`` variant of a key sorts them descending.
Which direction matches depth depends on how the network was trained (docs/regimes.md): on the
Jane Street net small delta-norms come first, on deep zero-initialised synthetic nets the reverse.
"""
from __future__ import annotations

import torch

from reassembly.network import BlockStack

REVERSED = "-reversed"


def delta_norm(stack: BlockStack, X: torch.Tensor) -> torch.Tensor:
    """Mean norm of each block's residual branch applied to the raw input (data-dependent)."""
    X = X.to(stack.w_in.dtype)
    h = X.unsqueeze(0).expand(stack.depth, -1, -1)
    ks = torch.arange(stack.depth)
    branch = stack.blocks(ks, h) - h
    return branch.norm(dim=2).mean(dim=1)


def wout_norm(stack: BlockStack, X: torch.Tensor | None = None) -> torch.Tensor:
    """Frobenius norm of each block's output projection (data-free)."""
    return stack.w_out.flatten(1).norm(dim=1)


KEYS = {"delta-norm": delta_norm, "wout-norm": wout_norm}
SEEDS = tuple(name + suffix for name in KEYS for suffix in ("", REVERSED))


def seed_order(stack: BlockStack, X: torch.Tensor, method: str = "delta-norm") -> list[int]:
    """Blocks sorted by ascending key ``method`` (descending for ``<key>-reversed``)."""
    if method not in SEEDS:
        raise ValueError(f"unknown seed {method!r}; choose from {', '.join(SEEDS)}")
    key = method.removesuffix(REVERSED)
    return [int(i) for i in torch.argsort(KEYS[key](stack, X), stable=True, descending=method.endswith(REVERSED))]
