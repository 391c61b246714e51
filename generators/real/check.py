"""Checks of a real network's forward that need no reference implementation: SmolLM2's next-token
loss on its text with the tied language-model head (true layer order, shuffled orders, and the Q/K
rows as llama.cpp stores them)."""

from __future__ import annotations

from pathlib import Path

import torch

from reassembly.kernel import PieceStack
from reassembly.puzzle import Puzzle


def language_model_head(root: Path) -> torch.Tensor:
    """SmolLM2's token embedding table ``(vocabulary, d)`` (tied: also its output head), float64."""
    from gguf import GGUFReader
    from gguf.quants import dequantize

    t = next(t for t in GGUFReader(str(root / "model.gguf")).tensors if t.name == "token_embd.weight")
    return torch.from_numpy(dequantize(t.data, t.tensor_type).astype("float64")).reshape(
        [int(s) for s in reversed(t.shape)]
    )


def stored_layout(w: torch.Tensor, heads: int) -> torch.Tensor:
    """Q or K rows permuted as llama.cpp stores them (rotary pairs ``2i, 2i+1`` adjacent)."""
    return w.reshape(heads, 2, -1, w.shape[-1]).transpose(1, 2).reshape(w.shape)


def next_token_loss(
    puzzle: Puzzle, arr: torch.Tensor, head: torch.Tensor, tokens: torch.Tensor, stored: bool = False
) -> float:
    """Mean cross-entropy of each next token (``tokens``: the model's own ids) under the layers of
    arrangement ``arr`` (pool rows of a float64 :class:`PieceStack`), with Q/K rows in llama.cpp's
    layout where ``stored``."""
    fam, stack = puzzle.family, PieceStack(puzzle, torch.float64)
    h = puzzle.X
    for row in arr.tolist():
        p = dict(stack.at(row))
        if stored:
            for slot in ("q", "k"):
                p[slot] = p[slot]._replace(weight=stored_layout(p[slot].weight, fam.heads(slot)))
        h = fam.block(p, h)
    logits = fam.head(stack.head(()), h) @ head.T
    return float(torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1), tokens[:, 1:].flatten()))
