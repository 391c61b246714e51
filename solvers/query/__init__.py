"""Query-only reassembly solvers (task ``query``): ``query-random`` and ``query-committee``."""

from solvers.query.solvers import CommitteeQuerySolver, RandomQuerySolver

__all__ = ["CommitteeQuerySolver", "RandomQuerySolver"]
