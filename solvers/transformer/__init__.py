"""``transformer``: circuits by weights, a seriation start and exact local search, for the layers of
real transformers (:class:`~solvers.transformer.solver.TransformerSolver`)."""

from __future__ import annotations

from solvers.transformer.search import LocalSearch
from solvers.transformer.solver import TransformerSolver

__all__ = ["LocalSearch", "TransformerSolver"]
