"""What a solver's author runs on their own class (scikit-learn's ``check_estimator``, Gymnasium's
``check_env``): :func:`check_solver`, and the tiny puzzles it solves (:func:`make_puzzle`)."""

from __future__ import annotations

from reassembly.testing.checks import CHECKS, check_solver
from reassembly.testing.puzzles import make_puzzle, write_puzzle

__all__ = ["CHECKS", "check_solver", "make_puzzle", "write_puzzle"]
