"""``fast``, built from named parts: :class:`~solvers.fast.descent.Descent`,
:class:`~solvers.fast.search.IteratedSearch`, :class:`~solvers.fast.whitening.Whitening` and
:class:`~solvers.fast.regroup.Regroup`, composed by :class:`~solvers.fast.solver.FastSolver`."""

from __future__ import annotations

from solvers.fast.descent import Descent
from solvers.fast.regroup import Regroup
from solvers.fast.search import IteratedSearch
from solvers.fast.solver import FastSolver
from solvers.fast.whitening import Whitening

__all__ = ["Descent", "FastSolver", "IteratedSearch", "Regroup", "Whitening"]
