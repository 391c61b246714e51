"""Puzzle files of the sequence families: token sequences with the network's outputs
(``sequences.pth``) and the fixed, known tensors that are not pieces (``fixed.pth``).

Both are untrusted: weights-only ``torch.load`` of regular files of bounded size, dense tensors
that own their bytes (:mod:`reassembly.safeio`), checked against the family and the pieces; every
fault is a one-line :class:`~reassembly.errors.PuzzleError` naming the file.
"""

from __future__ import annotations

from pathlib import Path

import torch

from reassembly.errors import PuzzleError
from reassembly.families.base import BlockFamily
from reassembly.families.sequence import check_stem
from reassembly.puzzle import Piece, Puzzle, check_fixed
from reassembly.safeio import load_state

SEQUENCES_NAME = "sequences.pth"
FIXED_NAME = "fixed.pth"


def load_sequences(path: Path, d: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``tokens`` ``(N, T)`` (int64) and ``pred`` ``(N, T, d)`` (float64) of a sequence data file."""
    state = load_state(path, "sequence data file", integers=("tokens",))
    if set(state) != {"tokens", "pred"}:
        raise PuzzleError(f"{path}: expected 'tokens' and 'pred', found {sorted(state)}")
    tokens, pred = state["tokens"], state["pred"]
    if tokens.ndim != 2 or 0 in tokens.shape:
        raise PuzzleError(
            f"{path}: 'tokens' must be a non-empty (sequences, length) table, got shape {tuple(tokens.shape)}"
        )
    if tuple(pred.shape) != (*tokens.shape, d):
        raise PuzzleError(
            f"{path}: 'pred' has shape {tuple(pred.shape)}, expected {(*tokens.shape, d)} (one state per token)"
        )
    return tokens.long(), pred.double()


def load_fixed(path: Path, family: BlockFamily, d: int) -> dict[str, torch.Tensor]:
    """The family's fixed tensors (float64) from a weights-only file."""
    fixed = load_state(path, "fixed-tensor file")
    check_fixed(family, fixed, d, str(path))
    return {k: v.double() for k, v in fixed.items()}


def load_sequence_puzzle(root: Path, family: BlockFamily, pieces: list[Piece], d: int, name: str) -> Puzzle:
    """A sequence puzzle: states are the fixed stem applied to the tokens."""
    tokens, pred = load_sequences(root / SEQUENCES_NAME, d)
    fixed = load_fixed(root / FIXED_NAME, family, d)
    check_stem(family, fixed, tokens, str(root / SEQUENCES_NAME))
    X = family.stem(fixed, tokens)
    return Puzzle(pieces=tuple(pieces), X=X, pred=pred, name=name, family=family, fixed=fixed, tokens=tokens)


def sequence_files(puzzle: Puzzle) -> dict[str, dict[str, torch.Tensor]]:
    """What :func:`reassembly.loader.save_puzzle` writes for a sequence puzzle: file name -> state."""
    if puzzle.tokens is None:
        raise PuzzleError(f"{puzzle.name}: a {puzzle.family.name!r} puzzle needs its token sequences to be saved")
    return {
        SEQUENCES_NAME: {"tokens": puzzle.tokens.to(torch.int64).clone(), "pred": puzzle.pred.double().clone()},
        FIXED_NAME: {k: v.to(torch.float32).clone() for k, v in puzzle.fixed.items()},
    }
