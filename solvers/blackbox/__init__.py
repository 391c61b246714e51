"""Black-box reconstruction solvers (task ``blackbox``): ``blackbox-random`` and ``blackbox-committee``."""
from solvers.blackbox.solvers import CommitteeBlackboxSolver, RandomBlackboxSolver

__all__ = ["CommitteeBlackboxSolver", "RandomBlackboxSolver"]
