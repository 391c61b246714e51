"""Small synthetic puzzles, of any block family, for tests (this package's and a plugin author's).

The blocks are *constructed*, not trained: every hidden unit has a scale shared by its read and
write vectors, the write piece is ``-c`` times the transposed (last) read piece plus noise, and a
norm gain follows its read piece's column scales. That gives the per-unit statistics the grouping
scores rely on, and the branch strength grows with depth so that delta-norm seeds start near the
true order. This exercises the pipelines end to end; it says nothing about whether trained
networks carry those signals (the generators do that).
"""

from __future__ import annotations

from pathlib import Path

import torch

from reassembly.answer import ANSWER_NAME, Answer, Assembly, save_answer
from reassembly.families import get_family
from reassembly.loader import save_puzzle
from reassembly.puzzle import Piece, Puzzle
from reassembly.scoring import outputs


def _block(
    family, width: int, hidden: int, scale: float, noise: float, g: torch.Generator, signal: float = 1.0
) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
    f64 = torch.float64
    unit = (0.15 * torch.randn(hidden, generator=g, dtype=f64)).exp()
    dim = 1 + 0.1 * torch.randn(width, generator=g, dtype=f64)
    tensors: dict[str, tuple[torch.Tensor, torch.Tensor | None]] = {}
    last_read = None
    for slot in family.slots:
        if slot.role == "read":
            w = unit[:, None] * torch.randn(hidden, width, generator=g, dtype=f64) / width**0.5 * dim[None, :]
            tensors[slot.name] = (w, 0.1 * torch.randn(hidden, generator=g, dtype=f64) if slot.bias else None)
            last_read = w
    for slot in family.slots:
        if slot.role == "write":
            w = (
                -signal * scale * last_read.T / hidden**0.5
                + noise * torch.randn(width, hidden, generator=g, dtype=f64) / hidden**0.5
            )
            tensors[slot.name] = (w, 0.05 * torch.randn(width, generator=g, dtype=f64) if slot.bias else None)
        elif slot.role == "scale":
            tensors[slot.name] = (dim.clone(), None)
    return [tensors[s.name] for s in family.slots]


def make_puzzle(
    depth: int = 8,
    width: int = 12,
    hidden: int | None = None,
    output: int = 1,
    rows: int = 300,
    noise: float = 0.05,
    seed: int = 0,
    name: str = "synthetic",
    family: str = "relu",
    signal: float = 1.0,
) -> tuple[Puzzle, Answer]:
    """A shuffled network of ``depth`` constructed blocks of ``family`` and its answer.

    ``signal`` scales the part of each write piece tied to its read piece (0: write pieces are
    noise of size ``noise``, so no weight statistic pairs them and only the data can).

    Piece ids are a seeded random shuffle; ``pred`` is the true network's output in float64.
    """
    fam = get_family(family)
    hidden = 2 * width if hidden is None else hidden
    g = torch.Generator().manual_seed(seed)
    layers: list[tuple[torch.Tensor, torch.Tensor | None]] = []
    for k in range(depth):
        layers += _block(fam, width, hidden, 0.2 + 0.8 * (k + 1) / depth, noise, g, signal)
    layers.append(
        (
            torch.randn(output, width, generator=g, dtype=torch.float64) / width**0.5,
            0.1 * torch.randn(output, generator=g, dtype=torch.float64),
        )
    )
    # Round to float32 now so the saved puzzle (float32 pieces) is the same network.
    layers = [(w.float().double(), None if b is None else b.float().double()) for w, b in layers]
    ids = torch.randperm(len(layers), generator=g).tolist()  # ids[position] = piece id
    pieces = [Piece(index=ids[pos], weight=w, bias=b) for pos, (w, b) in enumerate(layers)]
    S = len(fam.slots)
    truth = Assembly(tuple(tuple(ids[S * k : S * (k + 1)]) for k in range(depth)), tuple(ids[S * depth :]))
    X = torch.randn(rows, width, generator=g, dtype=torch.float64)
    probe = Puzzle(
        pieces=tuple(pieces), X=X, pred=torch.zeros(rows, output, dtype=torch.float64), name=name, family=fam
    )
    return Puzzle(pieces=tuple(pieces), X=X, pred=outputs(probe, truth), name=name, family=fam), Answer.of(truth)


def write_puzzle(directory: Path, with_answer: bool = False, **kwargs: object) -> Path:
    """Write :func:`make_puzzle` (``kwargs``) to ``directory`` (with ``answer.json`` if asked)."""
    puzzle, answer = make_puzzle(**kwargs)  # type: ignore[arg-type]
    save_puzzle(puzzle, directory)
    if with_answer:
        save_answer(answer, Path(directory) / ANSWER_NAME)
    return Path(directory)
