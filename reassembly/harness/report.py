"""Summaries of stored results: one table row per (puzzle suite, solver), and a plot.

Reads rows only (see :func:`reassembly.harness.results.load_results`); shares nothing else with
the bench that wrote them. Failed runs (``timeout``, ``error``) count in every denominator as
not recovered; time statistics include them at the time they ran.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from rich.table import Table


def _rate(values: "pd.Series") -> tuple[int, int]:
    """(true count, known count) of a column of True/False/None."""
    known = values.dropna()
    return int(known.astype(bool).sum()), int(len(known))


def _num(df: "pd.DataFrame", col: str) -> "pd.Series":
    import pandas as pd

    return pd.to_numeric(df[col], errors="coerce") if col in df else pd.Series(dtype=float)


def summarize(df: "pd.DataFrame") -> "pd.DataFrame":
    """One row per (suite, solver): counts, rates, means and medians of the runs' metrics."""
    import pandas as pd

    out: list[dict[str, Any]] = []
    for (suite, solver), g in df.groupby(["suite", "solver"], sort=False):
        status = g["status"]
        ok = g[status == "ok"]
        exact_k = int((g["exact"] == True).sum())  # noqa: E712  (None and NaN are not True)
        order_k, order_n = _rate(g["order_exact"]) if "order_exact" in g else (0, 0)
        seconds = _num(g, "seconds").dropna()
        depth = _num(g, "depth").dropna()
        out.append({
            "suite": suite,
            "solver": solver,
            "depth": int(depth.iloc[0]) if len(depth) else None,
            "runs": len(g),
            "exact": exact_k,
            "exact_rate": exact_k / len(g),
            "exact_known": int((g["exact"].notna() | (status != "ok")).sum()),  # 0: no answer known, MSE only
            "pairing_accuracy": _num(g, "pairing_accuracy").mean(),
            "order_exact": order_k,
            "order_known": order_n,
            "kendall_tau": _num(g, "kendall_tau").mean(),
            "mse_median": _num(ok, "mse").median(),
            "seconds_median": seconds.median() if len(seconds) else math.nan,
            "seconds_max": seconds.max() if len(seconds) else math.nan,
            "evaluations_median": _num(ok, "evaluations").median(),
            "timeouts": int((status == "timeout").sum()),
            "errors": int((status == "error").sum()),
        })
    summary = pd.DataFrame(out)
    if len(summary):
        summary = summary.sort_values(["depth", "suite", "solver"], na_position="last", kind="stable").reset_index(drop=True)
    return summary


def _fmt(value: float, spec: str) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def summary_table(summary: "pd.DataFrame", title: str = "Exact recovery by solver") -> "Table":
    """The summary as a rich table."""
    from rich import box
    from rich.table import Table

    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD,
                  caption="exact: full permutation recovered; pairs: mean pairing accuracy; order: inputs in the true "
                          "order; τ: mean Kendall τ of block order; MSE, s, evals: medians (s also max)",
                  caption_justify="left")
    for name, justify in (("puzzles", "left"), ("solver", "left"), ("exact", "right"), ("pairs", "right"),
                          ("order", "right"), ("τ", "right"), ("MSE", "right"), ("s", "right"),
                          ("max s", "right"), ("evals", "right"), ("failed", "left")):
        text = name in ("puzzles", "solver", "failed")  # long names fold; numbers never wrap
        table.add_column(name, justify=justify, overflow="fold", no_wrap=not text, min_width=8 if text else None)  # type: ignore[arg-type]
    for r in summary.itertuples():
        style = "green" if r.exact == r.runs else ("red" if r.exact == 0 else "yellow")
        failed = ", ".join(f"{n} {what}" for n, what in ((r.timeouts, "timeout"), (r.errors, "error")) if n)
        table.add_row(
            str(r.suite), str(r.solver), f"[{style}]{r.exact}/{r.runs}[/]" if r.exact_known else "–",
            _fmt(r.pairing_accuracy, ".1%"),
            f"{r.order_exact}/{r.order_known}" if r.order_known else "–",
            _fmt(r.kendall_tau, ".3f"), _fmt(r.mse_median, ".2e"), _fmt(r.seconds_median, ".1f"),
            _fmt(r.seconds_max, ".1f"), _fmt(r.evaluations_median, ",.0f"), failed,
        )
    return table


MARKERS = {"ok": "o", "timeout": "x", "error": "s"}


def plot(df: "pd.DataFrame", path: str | Path) -> Path:
    """PNG of exact-recovery rate and runtime per solver (and against depth where several depths ran)."""
    import numpy as np
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    summary = summarize(df)
    suites = list(dict.fromkeys(summary["suite"]))
    solvers = sorted(dict.fromkeys(summary["solver"]))
    synthetic = summary[summary["suite"].isin(df.loc[df["kind"] == "synthetic", "suite"])] if "kind" in df else summary
    by_depth = synthetic.dropna(subset=["depth"])
    several_depths = by_depth["depth"].nunique() > 1

    fig = Figure(figsize=(12, 9.5 if several_depths else 5), layout="constrained")
    axes = fig.subplots(2 if several_depths else 1, 2, squeeze=False)
    colors = {s: f"C{i}" for i, s in enumerate(suites)}
    x = np.arange(len(solvers))
    width = 0.8 / max(1, len(suites))

    ax = axes[0][0]
    for i, suite in enumerate(suites):
        rows = summary[summary["suite"] == suite].set_index("solver").reindex(solvers)
        pos = x - 0.4 + width * (i + 0.5)
        rate = rows["exact_rate"].to_numpy(dtype=float)
        ax.bar(pos, np.nan_to_num(rate), width, label=suite, color=colors[suite])
        for p, r, k, n in zip(pos, np.nan_to_num(rate), rows["exact"], rows["runs"]):
            if n == n:  # present
                ax.annotate(f"{int(k)}/{int(n)}", (p, r), xytext=(0, 2), textcoords="offset points",
                            ha="center", va="bottom", fontsize=8, rotation=90 if len(suites) > 3 else 0)
    ax.set(title="Exact recovery (full permutation)", ylabel="fraction of runs", ylim=(0, 1.12), xticks=x)
    ax.set_xticklabels(solvers, rotation=20, ha="right")
    ax.grid(axis="y", alpha=0.3)
    fig.legend(handles=[Patch(color=colors[s], label=s) for s in suites], title="puzzles", loc="outside upper center",
               ncol=min(4, len(suites)), fontsize=9)

    ax = axes[0][1]
    seconds = df.assign(seconds=_num(df, "seconds"))
    seen: set[str] = set()
    for i, suite in enumerate(suites):
        for j, solver in enumerate(solvers):
            runs = seconds[(seconds["suite"] == suite) & (seconds["solver"] == solver)]
            for status, marker in MARKERS.items():
                vals = runs.loc[runs["status"] == status, "seconds"].dropna().to_numpy()
                if len(vals):
                    seen.add(status)
                    jitter = np.linspace(-width / 4, width / 4, len(vals)) if len(vals) > 1 else np.zeros(1)
                    ax.scatter(x[j] - 0.4 + width * (i + 0.5) + jitter, vals, marker=marker, color=colors[suite],
                               s=30, zorder=3)
            med = runs.loc[runs["status"] == "ok", "seconds"].median()
            if med == med:
                left = x[j] - 0.4 + width * i
                ax.hlines(med, left + 0.1 * width, left + 0.9 * width, color=colors[suite], lw=2)
    ax.set(title="Runtime per solve (bar: median of ok runs)", ylabel="seconds", xticks=x)
    ax.set_xticklabels(solvers, rotation=20, ha="right")
    vals = seconds["seconds"].dropna()
    if len(vals) and vals.max() > 20 * max(vals.min(), 1e-3):
        ax.set_yscale("log")
    ax.legend(handles=[Line2D([], [], ls="", marker=MARKERS[s], color="0.3", label=s) for s in MARKERS if s in seen],
              fontsize=8, title="run status")
    ax.grid(axis="y", alpha=0.3)

    if several_depths:
        depth_df = df[df["suite"].isin(by_depth["suite"])].assign(
            depth=_num(df, "depth"), seconds=_num(df, "seconds"), exact=df["exact"] == True)  # noqa: E712
        grouped = depth_df.groupby(["solver", "depth"])
        rate = grouped["exact"].mean().unstack(0)
        med = depth_df[depth_df["status"] == "ok"].groupby(["solver", "depth"])["seconds"].median().unstack(0)
        for ax, data, title, ylabel in ((axes[1][0], rate, "Exact recovery vs depth", "fraction of runs"),
                                        (axes[1][1], med, "Median runtime vs depth", "seconds")):
            for solver in data.columns:
                ax.plot(data.index, data[solver], marker="o", label=solver)
            ax.set(title=title, xlabel="depth (blocks)", ylabel=ylabel)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8, title="solver")
        axes[1][0].set_ylim(-0.02, 1.05)
        if med.notna().any().any() and med.max().max() > 20 * max(med.min().min(), 1e-3):
            axes[1][1].set_yscale("log")

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    return out
