"""Cosine-similarity baseline (after "Find the Lady"): per-hidden-unit alignment pairing, paper ordering."""
from __future__ import annotations

from solvers.pipeline import StagedSolver


class CosineSolver(StagedSolver):
    """Pairs by ``|mean_k cos(W_in[k, :], W_out[:, k])|`` + Hungarian, then the paper's ordering stages."""

    def __init__(self, pairing: str = "cosine", **kwargs: object) -> None:
        super().__init__(pairing=pairing, **kwargs)  # type: ignore[arg-type]
