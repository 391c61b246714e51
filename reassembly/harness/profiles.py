"""COCO-style runtime distributions and Dolan–Moré performance profiles from stored rows.

A *problem* is one puzzle; a solver variant's cost on it is the seconds (or forward
evaluations) of its run where the run recovered the puzzle exactly, and infinite otherwise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


def costs(df: pd.DataFrame, measure: str = "seconds") -> pd.DataFrame:
    """``(puzzle × variant)`` table of the cost to an exact answer (``inf`` where not reached;
    unsupported runs are left out)."""
    import pandas as pd

    from reassembly.harness.summary import normalise

    df = normalise(df)
    df = df[df["status"] != "unsupported"]
    value = pd.to_numeric(df[measure], errors="coerce").where(df["exact"] & (df["status"] == "ok"), np.inf)
    return df.assign(cost=value.fillna(np.inf)).pivot_table(
        index="puzzle", columns="variant", values="cost", aggfunc="min"
    )


def ecdf(table: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per variant, the sorted finite costs and the share of all problems solved by each."""
    out = {}
    for variant in table.columns:
        col = table[variant].to_numpy(dtype=float)
        finite = np.sort(col[np.isfinite(col)])
        out[variant] = (finite, np.arange(1, len(finite) + 1) / max(1, len(col)))
    return out


def performance_profile(table: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Dolan–Moré: per variant, the ratios ``cost / best cost`` on the problems some variant
    solved, sorted, and the share of those problems within each ratio."""
    best = table.min(axis=1)
    solved = np.isfinite(best)
    out = {}
    for variant in table.columns:
        ratio = (table.loc[solved, variant] / best[solved].clip(lower=1e-12)).to_numpy(dtype=float)
        finite = np.sort(ratio[np.isfinite(ratio)])
        out[variant] = (finite, np.arange(1, len(finite) + 1) / max(1, int(solved.sum())))
    return out
