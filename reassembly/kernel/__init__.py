"""The evaluation kernel: pieces stacked by pool, arrangements, forward passes and first-order screens."""

from __future__ import annotations

from reassembly.kernel.evaluator import Evaluator
from reassembly.kernel.stack import PieceStack

__all__ = ["Evaluator", "PieceStack"]
