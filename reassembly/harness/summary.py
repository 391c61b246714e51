"""Summaries of stored results: one table row per (puzzle suite, solver variant), and the failed
runs one by one.

Reads rows only (:func:`reassembly.harness.results.load_results`). Failed runs (``timeout``,
``error``) count in every denominator (a timeout as recovered only where its last reported
answer is exact; its scores count in the means); ``unsupported`` runs (the solver does not
apply to the puzzle) are counted apart.
"""

from __future__ import annotations

import math
import textwrap
from typing import TYPE_CHECKING, Any

from reassembly.tasks import get_task

if TYPE_CHECKING:
    import pandas as pd
    from rich.table import Table

COLUMNS = (
    "task",
    "suite",
    "kind",
    "puzzle",
    "solver",
    "variant",
    "status",
    "error",
    "failure",
    "exact",
    "grouping_accuracy",
    "order_exact",
    "kendall_tau",
    "mse",
    "seconds",
    "evaluations",
    "depth",
)


def normalise(df: pd.DataFrame) -> pd.DataFrame:
    """Every column the reports read, present (missing ones empty); ``variant`` defaults to ``solver``."""
    import pandas as pd

    df = df.reindex(columns=list(dict.fromkeys([*df.columns, *COLUMNS])))
    for col in ("task", "suite", "puzzle", "solver", "variant", "status", "error", "failure"):
        df[col] = df[col].astype(object)
    df["variant"] = df["variant"].fillna(df["solver"]).fillna("?")
    df["suite"] = df["suite"].fillna(df["puzzle"]).fillna("?")
    df["task"] = df["task"].fillna("reassembly")
    df["status"] = df["status"].fillna("error")
    for col in ("grouping_accuracy", "kendall_tau", "mse", "seconds", "evaluations", "depth"):
        df[col] = pd.to_numeric(df[col], errors="coerce")
    df["exact_known"] = df["exact"].notna() | (df["status"].isin(["timeout", "error"]))
    df["exact"] = df["exact"].map(lambda v: v is True or v == 1 or v == "True")
    return df


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, suite, variant): counts, rates, means and medians of the runs' metrics."""
    import pandas as pd

    df = normalise(df)
    out: list[dict[str, Any]] = []
    for (task, suite, variant), g in df.groupby(["task", "suite", "variant"], sort=False):
        status = g["status"]
        ok = g[status == "ok"]
        scored = g[
            (status == "ok") | ((status == "timeout") & g["mse"].notna())
        ]  # a timeout's last reported answer counts
        counted = g[status != "unsupported"]
        order = counted["order_exact"].dropna()
        out.append(
            {
                "task": task,
                "suite": suite,
                "variant": variant,
                "solver": g["solver"].iloc[0],
                "depth": g["depth"].dropna().iloc[0] if g["depth"].notna().any() else math.nan,
                "runs": len(counted),
                "exact": int(counted["exact"].sum()),
                "exact_rate": counted["exact"].mean() if len(counted) else math.nan,
                "answer_known": bool(counted["exact_known"].any()),
                "grouping_accuracy": scored["grouping_accuracy"].mean(),
                "order_exact": int(order.astype(bool).sum()),
                "order_known": int(len(order)),
                "kendall_tau": scored["kendall_tau"].mean(),
                "mse_median": scored["mse"].median(),
                "seconds_median": counted["seconds"].median(),
                "seconds_max": counted["seconds"].max(),
                "evaluations_median": scored["evaluations"].median(),
                **{f"n_{s}": int((status == s).sum()) for s in ("timeout", "error", "unsupported")},
                "search_misses": int((ok["failure"] == "search").sum()),
                "identifiability_misses": int((ok["failure"] == "identifiability").sum()),
                "other_misses": int(
                    (
                        ok["exact_known"]
                        & ~ok["exact"].astype(bool)
                        & ~ok["failure"].isin(["search", "identifiability"])
                    ).sum()
                ),
                **task_aggregates(scored, str(task)),
            }
        )
    summary = pd.DataFrame(out)
    if len(summary):
        summary = summary.sort_values(
            ["task", "depth", "suite", "variant"], na_position="last", kind="stable"
        ).reset_index(drop=True)
    return summary


def task_aggregates(scored: pd.DataFrame, task: str) -> dict[str, float]:
    """The task's own metrics over its scored runs, as ``<name>_<how>`` (e.g. ``psi_mean``)."""
    import pandas as pd

    out = {}
    for c in get_task(task).columns:
        values = pd.to_numeric(scored[c.name], errors="coerce").dropna() if c.name in scored else pd.Series(dtype=float)
        out[f"{c.name}_{c.how}"] = float(getattr(values, c.how)()) if len(values) else math.nan
    return out


def _fmt(value: Any, spec: str) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def failed_text(r: Any) -> str:
    parts = [
        f"{n} {what}"
        for n, what in (
            (r.n_timeout, "timeout"),
            (r.n_error, "error"),
            (r.n_unsupported, "unsupported"),
            (r.search_misses, "search miss"),
            (r.identifiability_misses, "unidentifiable"),
            (getattr(r, "other_misses", 0), "miss"),
        )
        if n
    ]
    return ", ".join(parts)


def summary_table(summary: pd.DataFrame, title: str = "Exact recovery by solver", width: int | None = None) -> Table:
    """The summary as a rich table. In a narrow terminal the least important numbers go first
    (evaluations, max seconds, MSE, order), never the run counts or the failures; long names fold."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    columns = [
        ("puzzles", "left", 1),
        ("solver", "left", 1),
        ("exact", "right", 1),
        ("groups", "right", 3),
        ("order", "right", 5),
        ("τ", "right", 2),
        ("MSE", "right", 4),
        ("s", "right", 2),
        ("max s", "right", 6),
        ("evals", "right", 7),
        ("failed", "left", 1),
    ]
    budget = width or 200
    drop = 7
    while (
        drop > 1
        and sum(9 if n not in ("puzzles", "solver", "failed") else 16 for n, _, p in columns if p <= drop) > budget
    ):
        drop -= 1
    shown = [(n, j) for n, j, p in columns if p <= drop]
    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        caption_justify="left",
        caption="exact: the answer is (or computes) the true network; groups: mean grouping accuracy; order: "
        "blocks in the true order; τ: mean Kendall τ; MSE, s, evals: medians"
        + ("" if drop == 7 else "; some columns hidden for width"),
    )
    for name, justify in shown:
        text = name in ("puzzles", "solver", "failed")
        table.add_column(name, justify=justify, overflow="fold", no_wrap=not text, min_width=8 if text else None)  # type: ignore[arg-type]
    for r in summary.itertuples():
        style = "green" if r.exact == r.runs and r.runs else ("red" if r.exact == 0 else "yellow")
        cells = {
            "puzzles": escape(str(r.suite)),
            "solver": escape(str(r.variant)),
            "exact": f"[{style}]{r.exact}/{r.runs}[/]" if r.answer_known else "–",
            "groups": _fmt(r.grouping_accuracy, ".1%"),
            "order": f"{r.order_exact}/{r.order_known}" if r.order_known else "–",
            "τ": _fmt(r.kendall_tau, ".3f"),
            "MSE": _fmt(r.mse_median, ".2e"),
            "s": _fmt(r.seconds_median, ".1f"),
            "max s": _fmt(r.seconds_max, ".1f"),
            "evals": _fmt(r.evaluations_median, ",.0f"),
            "failed": failed_text(r),
        }
        table.add_row(*(cells[n] for n, _ in shown))
    return table


def failed_runs_table(df: pd.DataFrame, width: int | None = None) -> Table | None:
    """Every run that did not end with a scored answer: puzzle, solver, status and message."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    df = normalise(df)
    bad = df[df["status"] != "ok"]
    if not len(bad):
        return None
    table = Table(title=f"Runs without a scored answer ({len(bad)})", title_justify="left", box=box.SIMPLE_HEAD)
    for name in ("puzzle", "solver", "status", "message"):
        table.add_column(name, overflow="fold")
    limit = max(120, 2 * ((width or 200) - 40))  # the column folds: a long message takes a few lines
    for r in bad.itertuples():
        message = str(r.error) if isinstance(r.error, str) else ""
        short = textwrap.shorten(" ".join(message.split()), limit, placeholder=" …") if message else ""
        table.add_row(escape(str(r.puzzle)), escape(str(r.variant)), str(r.status), escape(short))
    return table
