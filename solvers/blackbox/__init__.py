"""Black-box reconstruction solvers (task ``blackbox``): ``blackbox-random`` and ``blackbox-committee``
(surrogates fitted to queries, the paper's), ``blackbox-kinks`` (ours: read off the network's kinks)."""

from solvers.blackbox.kinks import KinkBlackboxSolver
from solvers.blackbox.solvers import CommitteeBlackboxSolver, RandomBlackboxSolver

__all__ = ["CommitteeBlackboxSolver", "KinkBlackboxSolver", "RandomBlackboxSolver"]
