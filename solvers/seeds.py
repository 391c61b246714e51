"""Seed orderings: a rough first order of grouped blocks, from one statistic per block.

Each key sorts the blocks ascending; the ``-reversed`` variant sorts them descending. Which
direction matches depth depends on how the network was trained (docs/regimes.md): on the Jane
Street net small delta-norms come first, on deep zero-initialised synthetic nets the reverse.
"""

from __future__ import annotations

import torch

from reassembly.kernel import Evaluator
from reassembly.kernel.screens import branches

REVERSED = "-reversed"


def delta_norm(ev: Evaluator, arr: torch.Tensor) -> torch.Tensor:
    """Mean norm, over ``ev``'s rows, of each block's residual branch applied to the raw input."""
    D = arr.shape[0]
    return branches(ev, arr, ev.X.unsqueeze(0).expand(D, -1, -1)).norm(dim=-1).mean(dim=-1)


def write_norm(ev: Evaluator, arr: torch.Tensor) -> torch.Tensor:
    """Frobenius norm of each block's write piece (the paper's ``||W_out||_F``; data-free)."""
    slots = ev.stack.slots
    write = next(s.name for s in ev.family.slots if s.role == "write")
    w = ev.stack.tensors[write].weight[arr[:, slots.index(write)]]
    return w.flatten(1).norm(dim=1)


KEYS = {"delta-norm": delta_norm, "wout-norm": write_norm}
SEEDS = tuple(name + suffix for name in KEYS for suffix in ("", REVERSED))


def seed_order(ev: Evaluator, arr: torch.Tensor, method: str = "delta-norm") -> torch.Tensor:
    """The rows of ``arr`` (grouped blocks) sorted by key ``method`` (descending for ``-reversed``)."""
    key = KEYS[method.removesuffix(REVERSED)](ev, arr)
    return arr[torch.argsort(key, stable=True, descending=method.endswith(REVERSED))]
