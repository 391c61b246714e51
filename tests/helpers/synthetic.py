"""A small synthetic puzzle factory for unit tests.

The blocks are *constructed*, not trained: ``W_out = -c * W_in^T + noise`` gives every correct
pair the negative-diagonal product the paper's DDR pairing relies on, and the branch scale grows
with depth so the delta-norm and ||W_out|| seeds start near the true order. This exercises the
pipeline end to end; it says nothing about whether trained networks carry that structure.
"""
from __future__ import annotations

from pathlib import Path

import torch

from reassembly.answer import Answer, save_answer
from reassembly.loader import save_puzzle
from reassembly.network import forward
from reassembly.puzzle import Piece, Puzzle


def make_puzzle(
    depth: int = 8,
    width: int = 12,
    hidden: int | None = None,
    output: int = 1,
    rows: int = 300,
    noise: float = 0.05,
    seed: int = 0,
    name: str = "synthetic",
) -> tuple[Puzzle, Answer]:
    """A shuffled residual network with ``depth`` blocks and its true permutation.

    Piece ids are a seeded random shuffle; ``pred`` is the true network's output in float64.
    """
    hidden = 2 * width if hidden is None else hidden
    g = torch.Generator().manual_seed(seed)
    layers: list[tuple[torch.Tensor, torch.Tensor]] = []
    for k in range(depth):
        scale = 0.2 + 0.8 * (k + 1) / depth  # branch strength grows with depth
        w_in = torch.randn(hidden, width, generator=g, dtype=torch.float64) / width**0.5
        b_in = 0.1 * torch.randn(hidden, generator=g, dtype=torch.float64)
        w_out = -scale * w_in.T / hidden**0.5 + noise * torch.randn(width, hidden, generator=g, dtype=torch.float64) / hidden**0.5
        b_out = 0.05 * torch.randn(width, generator=g, dtype=torch.float64)
        layers += [(w_in, b_in), (w_out, b_out)]
    layers.append((torch.randn(output, width, generator=g, dtype=torch.float64) / width**0.5,
                   0.1 * torch.randn(output, generator=g, dtype=torch.float64)))
    # Round to float32 now so the saved puzzle (float32 pieces) is the same network.
    layers = [(w.float().double(), b.float().double()) for w, b in layers]
    ids = torch.randperm(len(layers), generator=g).tolist()  # ids[position] = piece id
    pieces = [Piece(index=ids[pos], weight=w, bias=b) for pos, (w, b) in enumerate(layers)]
    X = torch.randn(rows, width, generator=g, dtype=torch.float64)
    probe = Puzzle(pieces=tuple(pieces), X=X, pred=torch.zeros(rows, output, dtype=torch.float64), name=name)
    pred = forward(probe, ids)
    return Puzzle(pieces=tuple(pieces), X=X, pred=pred, name=name), Answer.from_permutation(ids)


def write_puzzle(directory: Path, with_answer: bool = False, **kwargs: object) -> Path:
    """Write :func:`make_puzzle` (``kwargs``) to ``directory`` in the Jane Street layout."""
    puzzle, answer = make_puzzle(**kwargs)  # type: ignore[arg-type]
    save_puzzle(puzzle, directory)
    if with_answer:
        save_answer(answer, directory)
    return Path(directory)
