"""Which weight statistics link one layer's attention to its MLP: reads or writes.

A study of the signal :mod:`solvers.transformer.linking` uses, on the real networks in their true
layer order (the truth is only used to score each statistic)::

    python docs/studies/real_link_study.py            # both networks whose weights are fetched

For every pair of component kinds (Q/K, V/O, MLP) and every side (the Grams of the pieces that
*read* the residual stream, ``Wᵀ W``, or that *write* it, ``W Wᵀ``), each component's Gram summed
over its pieces of that side, scaled to unit norm, the kind's mean removed, and compared by cosine
between the two kinds' components; the Hungarian assignment on that similarity is scored against
the true layers (chance: one in the number of layers).
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from generators.real.fetch import present, weights_dir
from generators.real.models import minilm, smollm2

KINDS = {
    "smollm2": {"Q/K": ("q", "k"), "V/O": ("v", "o"), "MLP": ("gate", "up", "down")},
    "minilm": {"Q/K": ("q", "k"), "V/O": ("v", "o"), "MLP": ("inp", "out")},
}


def features(model, slots: tuple[str, ...], side: str) -> torch.Tensor | None:
    """``(layers, d * d)`` unit-norm, mean-removed Grams of ``slots``' pieces on ``side``.

    Parameters
    ----------
    model
        A :class:`~generators.real.models.RealModel`.
    slots
        The kind's slots.
    side
        ``read`` or ``write``.
    """
    roles = {s.name: s for s in model.family.slots}
    chosen = [s for s in slots if roles[s].role == side]
    if not chosen:
        return None
    rows = []
    for layer in model.layers:
        gram = 0
        for s in chosen:
            w = layer[s][0].double()
            w = w if roles[s].hidden_axis == 1 else w.T  # (residual, hidden)
            gram = gram + w @ w.T
        rows.append(torch.nn.functional.normalize(gram.flatten(), dim=0))
    f = torch.stack(rows)
    return torch.nn.functional.normalize(f - f.mean(0), dim=1)


def accuracy(a: torch.Tensor, b: torch.Tensor) -> float:
    """Share of layers whose Hungarian partner (by cosine of ``a``'s and ``b``'s rows) is their own."""
    _, cols = linear_sum_assignment((a @ b.T).numpy(), maximize=True)
    return float(np.mean(cols == np.arange(len(cols))))


def main() -> None:
    torch.set_num_threads(1)
    readers = {"smollm2": smollm2, "minilm": minilm}
    print("| network | layers | kinds | reads | writes |")
    print("|---|---|---|---|---|")
    for name, read in readers.items():
        if not present(name):
            print(f"| {name} | – | skipped: `reassembly fetch {name}` | – | – |")
            continue
        model = read(weights_dir(name))
        for (ka, sa), (kb, sb) in itertools.combinations(KINDS[name].items(), 2):
            cells = []
            for side in ("read", "write"):
                fa, fb = features(model, sa, side), features(model, sb, side)
                cells.append("–" if fa is None or fb is None else f"{accuracy(fa, fb):.0%}")
            print(f"| {name} | {len(model.layers)} | {ka} – {kb} | {cells[0]} | {cells[1]} |", flush=True)


if __name__ == "__main__":
    main()
