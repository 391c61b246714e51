"""Plots of stored results: one colour per solver variant everywhere, puzzle suites on the x axis.

``overview`` shows, per run, exact recovery beside how close a miss came (Kendall τ, grouping,
final MSE) and the runtime; ``profiles`` shows COCO-style runtime ECDFs and Dolan–Moré
performance profiles.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from reassembly.harness.profiles import costs, ecdf, performance_profile
from reassembly.harness.summary import normalise, summarize

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

MARKERS = {"ok": "o", "timeout": "X", "error": "s", "unsupported": "d"}


def colours(variants: list[str]) -> dict[str, str]:
    return {v: f"C{i % 10}" for i, v in enumerate(variants)}


def _strip(ax, df: "pd.DataFrame", column: str, suites: list[str], variants: list[str], colour: dict[str, str]) -> None:
    """One point per run: x = suite (dodged by variant), y = ``column``; hollow markers for misses."""
    width = 0.8 / max(1, len(variants))
    rng = np.random.default_rng(0)
    for j, variant in enumerate(variants):
        for i, suite in enumerate(suites):
            runs = df[(df["suite"] == suite) & (df["variant"] == variant)]
            for status, marker in MARKERS.items():
                part = runs[runs["status"] == status]
                y = part[column].to_numpy(dtype=float)
                if not len(y) or np.isnan(y).all():
                    continue
                x = i - 0.4 + width * (j + 0.5) + rng.uniform(-width / 4, width / 4, len(y))
                exact = part["exact"].to_numpy(dtype=bool)
                for mask, face in ((exact, colour[variant]), (~exact, "none")):
                    if mask.any():
                        ax.scatter(x[mask], y[mask], marker=marker, s=28, zorder=3, edgecolors=colour[variant],
                                   facecolors=face, linewidths=1.2)
    ax.set_xticks(range(len(suites)))
    ax.set_xticklabels(suites, rotation=15, ha="right", fontsize=8)
    ax.grid(axis="y", alpha=0.3)


def overview(df: "pd.DataFrame") -> "Figure":
    """Exact rate, τ, grouping, MSE and runtime per variant and suite."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    df = normalise(df)
    summary = summarize(df)
    suites = list(dict.fromkeys(summary["suite"]))
    variants = sorted(dict.fromkeys(summary["variant"]))
    colour = colours(variants)
    fig = Figure(figsize=(13, 8.5), layout="constrained")
    axes = fig.subplots(2, 3).flatten()
    width = 0.8 / max(1, len(variants))
    ax = axes[0]
    for j, variant in enumerate(variants):
        rows = summary[summary["variant"] == variant].set_index("suite").reindex(suites)
        pos = np.arange(len(suites)) - 0.4 + width * (j + 0.5)
        rate = np.nan_to_num(rows["exact_rate"].to_numpy(dtype=float))
        ax.bar(pos, rate, width, color=colour[variant])
        for p, r, k, n in zip(pos, rate, rows["exact"], rows["runs"]):
            if n == n and n:
                ax.annotate(f"{int(k)}/{int(n)}", (p, r), xytext=(0, 2), textcoords="offset points", ha="center",
                            va="bottom", fontsize=7)
    ax.set(title="Exact recovery", ylabel="share of runs", ylim=(0, 1.15))
    ax.set_xticks(range(len(suites)))
    ax.set_xticklabels(suites, rotation=15, ha="right", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    panels = (("kendall_tau", "Block order: Kendall τ", (-1.05, 1.05), False), ("grouping_accuracy", "Grouping accuracy", (-0.05, 1.05), False),
              ("mse", "Final MSE (log)", None, True), ("seconds", "Seconds per solve (log)", None, True))
    for ax, (column, title, ylim, log) in zip(axes[1:5], panels):
        data = df.assign(**{column: df[column].clip(lower=1e-16) if log else df[column]})
        _strip(ax, data, column, suites, variants, colour)
        ax.set_title(title)
        if ylim:
            ax.set_ylim(*ylim)
        if log and data[column].notna().any():
            ax.set_yscale("log")
    ax = axes[5]
    ax.axis("off")
    handles = [Patch(color=colour[v], label=v) for v in variants]
    handles += [Line2D([], [], ls="", marker=MARKERS[s], color="0.3", label=f"run {s}") for s in MARKERS
                if (df["status"] == s).any()]
    handles += [Line2D([], [], ls="", marker="o", markerfacecolor="none", color="0.3", label="hollow: not exact")]
    ax.legend(handles=handles, loc="center", fontsize=9, title="solver variants", frameon=False)
    return fig


def profiles(df: "pd.DataFrame") -> "Figure":
    """Runtime ECDFs (seconds and forward evaluations to an exact answer) and performance profiles."""
    from matplotlib.figure import Figure

    variants = sorted(dict.fromkeys(normalise(df)["variant"]))
    colour = colours(variants)
    fig = Figure(figsize=(13, 4.2), layout="constrained")
    axes = fig.subplots(1, 3)
    for ax, measure, label in ((axes[0], "seconds", "seconds"), (axes[1], "evaluations", "forward evaluations")):
        for variant, (x, y) in ecdf(costs(df, measure).clip(lower=1e-3)).items():
            if len(x):
                ax.step(np.r_[x[0], x], np.r_[0, y], where="post", color=colour[variant], label=variant)
        ax.set(title=f"ECDF of {label} to an exact answer", xlabel=label, ylabel="share of puzzles solved", ylim=(-0.02, 1.02))
        if ax.lines:
            ax.set_xscale("log")
        ax.grid(alpha=0.3)
    for variant, (x, y) in performance_profile(costs(df, "seconds")).items():
        if len(x):
            axes[2].step(np.r_[1, x], np.r_[0, y], where="post", color=colour[variant], label=variant)
    axes[2].set(title="Performance profile (seconds)", xlabel="τ: within this factor of the fastest",
                ylabel="share of puzzles", ylim=(-0.02, 1.02))
    if axes[2].lines:
        axes[2].set_xscale("log")
        axes[2].legend(fontsize=8)
    axes[2].grid(alpha=0.3)
    return fig


def save(fig: "Figure", path: str | Path) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    return out


def plot(df: "pd.DataFrame", path: str | Path) -> Path:
    """The overview figure as a PNG at ``path``, and the profiles beside it (``*-profiles.png``)."""
    out = save(overview(df), path)
    save(profiles(df), out.with_name(out.stem + "-profiles" + out.suffix))
    return out
