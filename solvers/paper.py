"""The paper's pipeline ("I Dropped a Neural Net"): DDR pairing, seed, Bradley–Terry, bubble repair."""
from __future__ import annotations

from solvers.pipeline import StagedSolver


class PaperSolver(StagedSolver):
    """DDR + Hungarian pairing, delta-norm (or ``seed="wout-norm"``) seed, Bradley–Terry, bubble repair."""


class PaperHillclimbSolver(StagedSolver):
    """The paper's §5: the same without Bradley–Terry, bubble repair straight from the seed."""

    def __init__(self, pairing: str = "ddr", seed: str = "delta-norm", ranking: str = "none", **kwargs: object) -> None:
        super().__init__(pairing=pairing, seed=seed, ranking=ranking, **kwargs)  # type: ignore[arg-type]
