"""Plots of stored results, one figure set per task: one colour per solver variant everywhere
(a palette that does not repeat), puzzle suites on the x axis.

``overview`` shows, per run, exact recovery beside how close a miss came (Kendall τ, grouping,
final MSE, an exact answer's drawn as 0) and the runtime of runs that ran (never an unsupported
one); ``profiles`` shows COCO-style runtime ECDFs and Dolan–Moré performance profiles.
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

MARKERS = {"ok": "o", "timeout": "X", "error": "s"}  # unsupported runs ran nothing: never drawn
LINTHRESH = 1e-12  # the MSE axis is linear below this (an exact answer's MSE is drawn as 0)


def colours(variants: list[str]) -> dict[str, str]:
    """A distinct colour per variant: tab10 up to 10, tab20 (dark shades first) up to 20, else
    evenly spaced samples of a perceptual colormap; none repeats.

    Parameters
    ----------
    variants
        The variants, in legend order.
    """
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    n = len(variants)
    if n <= 10:
        palette = [colormaps["tab10"](i) for i in range(n)]
    elif n <= 20:
        palette = [colormaps["tab20"](i) for i in [*range(0, 20, 2), *range(1, 20, 2)][:n]]
    else:
        palette = [colormaps["turbo"](x) for x in np.linspace(0.05, 0.95, n)]
    return {v: to_hex(c) for v, c in zip(variants, palette)}


def _labels(ax, names: list[str]) -> None:
    """Suite names as x tick labels, wrapped and turned so that neighbours do not overlap."""
    import textwrap

    ax.set_xticks(range(len(names)))
    wrapped = ["\n".join(textwrap.wrap(str(n), 18)) or str(n) for n in names]
    ax.set_xticklabels(
        wrapped, rotation=30 if len(names) > 2 else 0, ha="right" if len(names) > 2 else "center", fontsize=8
    )


def _strip(ax, df: pd.DataFrame, column: str, suites: list[str], variants: list[str], colour: dict[str, str]) -> None:
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
                        ax.scatter(
                            x[mask],
                            y[mask],
                            marker=marker,
                            s=28,
                            zorder=3,
                            edgecolors=colour[variant],
                            facecolors=face,
                            linewidths=1.2,
                        )
    _labels(ax, suites)
    ax.grid(axis="y", alpha=0.3)


def _panels(task: str) -> list[tuple[str, str, tuple[float, float] | None, str | None]]:
    """(column, title, y limits, scale) of the per-run panels: layer reassembly's τ, grouping and
    MSE, or a task's own first three metrics; then the seconds."""
    from reassembly.tasks import get_task

    columns = get_task(task).columns
    if not columns:
        panels = [
            ("kendall_tau", "Block order: Kendall τ", (-1.05, 1.05), None),
            ("grouping_accuracy", "Grouping accuracy", (-0.05, 1.05), None),
            ("mse", "Final MSE (exact answers at 0)", None, "symlog"),
        ]
    else:
        panels = [
            (
                c.name,
                f"{c.label} ({c.name})",
                (-0.05, 1.05) if c.fmt.endswith("%") else None,
                "symlog" if "e" in c.fmt else None,
            )
            for c in columns[:3]
        ]
    return [*panels, *[("", "", None, None)] * (3 - len(panels)), ("seconds", "Seconds per solve (log)", None, "log")]


def overview(df: pd.DataFrame, title: str | None = None) -> Figure:
    """Exact rate, τ, grouping, MSE and runtime per variant and suite (the rows of one task).

    Parameters
    ----------
    df
        Result rows of one task.
    title
        The figure's title (``None``: none).
    """
    import pandas as pd
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    df = normalise(df)
    df = df[df["status"] != "unsupported"]
    summary = summarize(df)
    suites = list(dict.fromkeys(summary["suite"]))
    variants = sorted(dict.fromkeys(summary["variant"]))
    colour = colours(variants)
    fig = Figure(figsize=(max(13.0, 1.2 * len(suites) * max(1, len(variants)) / 2), 9), layout="constrained")
    if title:
        fig.suptitle(title)
    axes = fig.subplots(2, 3).flatten()
    width = 0.8 / max(1, len(variants))
    ax = axes[0]
    for j, variant in enumerate(variants):
        rows = summary[summary["variant"] == variant].set_index("suite").reindex(suites)
        pos = np.arange(len(suites)) - 0.4 + width * (j + 0.5)
        rate = np.nan_to_num(rows["exact_rate"].to_numpy(dtype=float))
        ax.bar(pos, rate, width, color=colour[variant])
        if len(variants) * len(suites) <= 12:  # counts over the bars only where they fit side by side
            for p, r, k, n in zip(pos, rate, rows["exact"], rows["runs"]):
                if n == n and n:
                    ax.annotate(
                        f"{int(k)}/{int(n)}",
                        (p, r),
                        xytext=(0, 2),
                        textcoords="offset points",
                        ha="center",
                        va="bottom",
                        fontsize=7,
                    )
    ax.set(title="Exact recovery", ylabel="share of runs", ylim=(0, 1.15))
    _labels(ax, suites)
    ax.grid(axis="y", alpha=0.3)
    exact_zero = df["mse"].where(
        ~(df["exact"] & df["exact_known"]), 0.0
    )  # an exact answer's MSE is 0 (not rounding noise)
    panels = _panels(str(df["task"].iloc[0]) if len(df) else "reassembly")
    for ax, (column, title_, ylim, scale) in zip(axes[1:5], panels):
        if not column or column not in df:
            ax.axis("off")
            continue
        data = (
            df.assign(mse=exact_zero)
            if column == "mse"
            else df.assign(**{column: pd.to_numeric(df[column], errors="coerce")})
        )
        _strip(ax, data, column, suites, variants, colour)
        ax.set_title(title_)
        if ylim:
            ax.set_ylim(*ylim)
        if scale == "symlog" and data[column].notna().any():
            ax.set_yscale("symlog", linthresh=LINTHRESH)
            ax.set_ylim(bottom=-LINTHRESH / 2)
        elif scale == "log" and (data[column] > 0).any():
            ax.set_yscale("log")
    ax = axes[5]
    ax.axis("off")
    handles = [Patch(color=colour[v], label=v) for v in variants]
    handles += [
        Line2D([], [], ls="", marker=MARKERS[s], color="0.3", label=f"run {s}")
        for s in MARKERS
        if (df["status"] == s).any()
    ]
    handles += [Line2D([], [], ls="", marker="o", markerfacecolor="none", color="0.3", label="hollow: not exact")]
    ax.legend(
        handles=handles,
        loc="center",
        fontsize=8 if len(variants) > 10 else 9,
        title="solver variants",
        frameon=False,
        ncols=2 if len(handles) > 14 else 1,
    )
    return fig


def profiles(df: pd.DataFrame, title: str | None = None) -> Figure:
    """Runtime ECDFs (seconds and forward evaluations to an exact answer) and performance profiles.

    Parameters
    ----------
    df
        Result rows of one task (the ECDFs never pool tasks).
    title
        The figure's title (``None``: none).
    """
    from matplotlib.figure import Figure

    df = df[normalise(df)["status"] != "unsupported"]
    variants = sorted(dict.fromkeys(normalise(df)["variant"]))
    colour = colours(variants)
    fig = Figure(figsize=(13, 4.6), layout="constrained")
    if title:
        fig.suptitle(title)
    axes = fig.subplots(1, 3)
    for ax, measure, label in ((axes[0], "seconds", "seconds"), (axes[1], "evaluations", "forward evaluations")):
        for variant, (x, y) in ecdf(costs(df, measure).clip(lower=1e-3)).items():
            if len(x):
                ax.step(np.r_[x[0], x], np.r_[0, y], where="post", color=colour[variant], label=variant)
        ax.set(
            title=f"ECDF of {label} to an exact answer",
            xlabel=label,
            ylabel="share of puzzles solved",
            ylim=(-0.02, 1.02),
        )
        if ax.lines:
            _log_x(ax)
        ax.grid(alpha=0.3)
    for variant, (x, y) in performance_profile(costs(df, "seconds")).items():
        if len(x):
            axes[2].step(np.r_[1, x], np.r_[0, y], where="post", color=colour[variant], label=variant)
    axes[2].set(
        title="Performance profile (seconds)",
        xlabel="τ: within this factor of the fastest",
        ylabel="share of puzzles",
        ylim=(-0.02, 1.02),
    )
    if axes[2].lines:
        _log_x(axes[2])
        axes[2].legend(fontsize=7 if len(variants) > 10 else 8, ncols=2 if len(variants) > 10 else 1)
    axes[2].grid(alpha=0.3)
    return fig


def _log_x(ax) -> None:
    """A log x axis labelled at its decades only (minor labels collide)."""
    from matplotlib.ticker import NullFormatter

    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())


def save(fig: Figure, path: str | Path) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    return out


def by_task(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The rows of each task, in order of first appearance.

    Parameters
    ----------
    df
        Result rows (any tasks).
    """
    tasks = normalise(df)["task"]
    return {str(t): df[tasks == t] for t in dict.fromkeys(tasks)}


def plot(df: pd.DataFrame, path: str | Path) -> list[Path]:
    """One figure set per task: the overview as a PNG at ``path`` and the profiles beside it
    (``*-profiles.png``); with several tasks, each file is named with its task (``STEM-TASK.png``).

    Parameters
    ----------
    df
        Result rows.
    path
        Where the overview goes (folders are created).
    """
    out = Path(path)
    parts = by_task(df)
    written = []
    for task, rows in parts.items():
        stem = out.stem if len(parts) == 1 else f"{out.stem}-{task}"
        title = None if len(parts) == 1 else f"task {task}"
        written.append(save(overview(rows, title), out.with_name(stem + out.suffix)))
        written.append(save(profiles(rows, title), out.with_name(f"{stem}-profiles{out.suffix}")))
    return written
