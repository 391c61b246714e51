"""Small synthetic puzzles for unit tests (now part of the library: :mod:`reassembly.testing.puzzles`)."""

from __future__ import annotations

from reassembly.testing.puzzles import make_puzzle, write_puzzle

__all__ = ["make_puzzle", "write_puzzle"]
