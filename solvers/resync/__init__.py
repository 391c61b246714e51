"""Re-synchronisation solvers (task ``resync``): ``resync-cosine`` (the paper's) and ``resync-match`` (ours)."""

from solvers.resync.solvers import ResyncCosineSolver, ResyncMatchSolver

__all__ = ["ResyncCosineSolver", "ResyncMatchSolver"]
