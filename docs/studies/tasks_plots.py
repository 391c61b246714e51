"""Plots and tables of docs/tasks.md from the rows the study scripts write (tasks_resync.py and
tasks_blackbox.py); reads rows only, solves nothing.

    python docs/studies/tasks_plots.py      # every table of docs/tasks.md from docs/studies/data/
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

COLOURS = {
    "resync-cosine": "C0",
    "resync-match": "C3",
    'resync-match[method="likelihood"]': "C1",
    "query-random": "C0",
    "query-committee": "C3",
    "blackbox-random": "C0",
    "blackbox-committee": "C2",
    "blackbox-kinks": "C3",
}
LABELS = {
    "noise": "Gaussian noise σ (relative to each tensor's RMS)",
    "quantize": "bits (uniform, per tensor)",
    "prune": "share of weights pruned (magnitude, per matrix)",
    "finetune": "fine-tuning steps (Adam, lr 1e-3)",
}


def rows_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def _panel(ax, rows: list[dict], kind: str, metric: str = "psi") -> None:
    values = sorted({r["value"] for r in rows if r["kind"] == kind}, reverse=kind == "quantize")
    x = np.arange(len(values))
    for solver in sorted({r["solver"] for r in rows}):
        means, points = [], []
        for i, v in enumerate(values):
            got = [r[metric] for r in rows if r["kind"] == kind and r["value"] == v and r["solver"] == solver]
            means.append(np.mean(got) if got else np.nan)
            points += [(i, g) for g in got]
        ax.plot(x, means, marker="o", color=COLOURS.get(solver), ls=":" if "[" in solver else "-", label=solver)
        if points:
            px, py = zip(*points)
            ax.scatter(
                np.array(px) + (0.06 if solver.endswith("match") else -0.06),
                py,
                s=10,
                color=COLOURS.get(solver),
                alpha=0.4,
            )
    ax.set_xticks(x)
    ax.set_xticklabels([f"{v:g}" for v in values], fontsize=8)
    ax.set_xlabel(LABELS.get(kind, kind), fontsize=8)
    ax.set_ylim(-0.05, 1.08)
    ax.grid(alpha=0.3)
    damage = [np.mean([r["output_error"] for r in rows if r["kind"] == kind and r["value"] == v]) for v in values]
    twin = ax.twinx()
    twin.plot(x, damage, ls="--", color="0.5", lw=1)
    twin.set_yscale("log")
    twin.tick_params(labelsize=7, colors="0.4")
    twin.set_ylabel("copy's output error (grey)", fontsize=7, color="0.4")


def resync_figure(jsonl: Path, png: Path) -> Path:
    """Ψ against each perturbation's strength, both solvers; the integrity check under an attack."""
    from matplotlib.figure import Figure

    rows = rows_of(jsonl)
    fig = Figure(figsize=(13, 7.5), layout="constrained")
    axes = fig.subplots(2, 3).flatten()
    for ax, kind in zip(axes, ("noise", "quantize", "prune", "finetune")):
        _panel(ax, rows, kind)
        ax.set_title(f"Ψ under {kind}", fontsize=10)
        ax.set_ylabel("Ψ (share of layers exactly re-synchronised)", fontsize=8)
    ax = axes[4]
    attack = [r for r in rows if r["kind"] == "rescale=0.05+noise"]
    values = sorted({r["value"] for r in attack})
    for solver in sorted({r["solver"] for r in attack}):
        recall = [
            np.mean([r["flag_recall"] for r in attack if r["value"] == v and r["solver"] == solver]) for v in values
        ]
        false = [
            np.mean([r["false_flags"] for r in attack if r["value"] == v and r["solver"] == solver]) for v in values
        ]
        ax.plot(values, recall, marker="o", color=COLOURS.get(solver), label=f"{solver}: attacked units flagged")
        ax.plot(
            values,
            np.array(false) / 100,
            marker="x",
            ls=":",
            color=COLOURS.get(solver),
            label=f"{solver}: false flags / 100",
        )
    ax.set(
        title="Integrity check: 5% of units rescaled ×[2, 4]^±1, then noise", xlabel=LABELS["noise"], ylim=(-0.05, 1.08)
    )
    ax.title.set_fontsize(10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    axes[5].axis("off")
    handles, labels = axes[0].get_legend_handles_labels()
    axes[5].legend(handles, labels, loc="center", title="Ψ: mean over seeds (dots: each seed)", fontsize=9)
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    return png


def blackbox_figure(jsonl: Path, png: Path) -> Path:
    """Largest parameter error (canonical form) against queries; ours across network sizes."""
    from matplotlib.figure import Figure

    rows = rows_of(jsonl)
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    left, right = fig.subplots(1, 2)
    curve = [r for r in rows if r["study"] == "curve"]
    for solver in sorted({r["solver"] for r in curve}):
        mine = [r for r in curve if r["solver"] == solver]
        left.scatter(
            [r["queries"] for r in mine], [r["max_error"] for r in mine], s=14, alpha=0.5, color=COLOURS.get(solver)
        )
        values = sorted({r["value"] for r in mine})
        xs = [np.median([r["queries"] for r in mine if r["value"] == v]) for v in values]
        ys = [np.median([r["max_error"] for r in mine if r["value"] == v]) for v in values]
        left.plot(xs, ys, marker="o", color=COLOURS.get(solver), label=f"{solver} (median over seeds)")
    left.axhline(1e-4, ls=":", color="0.4", label="the paper's bar, 1e-4")
    size = curve[0]["size"] if curve else "?"
    left.set(
        xscale="log",
        yscale="log",
        xlabel="queries (rows answered by the oracle)",
        ylabel="max parameter error (canonical)",
        title=f"Error against queries, {size} ReLU network",
    )
    left.legend(fontsize=8)
    left.grid(alpha=0.3)
    sizes = [r for r in rows if r["study"] == "sizes"]
    names = list(dict.fromkeys(r["size"] for r in sizes))
    for i, name in enumerate(names):
        mine = [r for r in sizes if r["size"] == name]
        right.scatter([r["queries"] for r in mine], [r["max_error"] for r in mine], s=22, label=name, color=f"C{i}")
    right.axhline(1e-4, ls=":", color="0.4")
    right.set(
        xscale="log",
        yscale="log",
        xlabel="queries",
        ylabel="max parameter error (canonical)",
        title="blackbox-kinks by network size d-h-o (each seed)",
    )
    right.legend(fontsize=8)
    right.grid(alpha=0.3)
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    return png


def breakdown_table(jsonl: Path) -> str:
    """Markdown: per perturbation and solver, the strongest setting with Ψ = 100 % on every seed
    (and the mean Ψ at each setting)."""
    rows = [r for r in rows_of(jsonl) if r["kind"] in LABELS]
    solvers = sorted({r["solver"] for r in rows})
    lines = [
        "| perturbation | setting: mean Ψ (" + " / ".join(solvers) + ") | Ψ = 100 % on every seed up to |",
        "|---|---|---|",
    ]
    for kind in LABELS:
        values = sorted({r["value"] for r in rows if r["kind"] == kind}, reverse=kind == "quantize")
        cells, held, broken = [], {}, set()
        for v in values:
            psis = {
                s: [r["psi"] for r in rows if r["kind"] == kind and r["value"] == v and r["solver"] == s]
                for s in solvers
            }
            cells.append(f"{v:g}: " + " / ".join(f"{np.mean(p):.2f}" if p else "–" for p in psis.values()))
            for s, p in psis.items():
                if p and min(p) < 1:
                    broken.add(s)
                elif p and s not in broken:
                    held[s] = v
        up_to = " / ".join(f"{held[s]:g}" if s in held else "never" for s in solvers)
        lines.append(f"| {kind} | {'; '.join(cells)} | {up_to} |")
    return "\n".join(lines)


def _median(values: list[float]) -> float:
    return float(np.median(values)) if values else float("nan")


def _span(values: list[float], fmt: str = ",.0f") -> str:
    lo, hi = min(values), max(values)
    return format(lo, fmt) if lo == hi else f"{format(lo, fmt)}–{format(hi, fmt)}"


def integrity_table(jsonl: Path) -> str:
    """Markdown: the integrity check (5 % of units rescaled, then noise) per noise level and solver:
    the share of attacked units flagged and the false flags per network (means over seeds); and the
    false flags fine-tuning alone raises."""
    rows = rows_of(jsonl)
    attack = [r for r in rows if r["kind"] == "rescale=0.05+noise"]
    solvers = sorted({r["solver"] for r in attack})
    lines = [
        "| noise σ after the attack | " + " | ".join(f"`{s}`: flagged (false flags)" for s in solvers) + " |",
        "|---|" + "---|" * len(solvers),
    ]
    for v in sorted({r["value"] for r in attack}):
        cells = []
        for s in solvers:
            mine = [r for r in attack if r["value"] == v and r["solver"] == s]
            cells.append(
                f"{np.mean([r['flag_recall'] for r in mine]):.1%} ({np.mean([r['false_flags'] for r in mine]):.1f})"
            )
        lines.append(f"| {v:g} | " + " | ".join(cells) + " |")
    tuned = [r for r in rows if r["kind"] == "finetune"]
    for v in sorted({r["value"] for r in tuned}):
        flags = [r["false_flags"] for r in tuned if r["value"] == v]
        lines.append(
            f"| fine-tuning {v:g} steps, no attack | false flags per network, every solver and seed: {_span(flags)} |"
            + " |" * (len(solvers) - 1)
        )
    return "\n".join(lines)


def real_resync_table(jsonls: list[Path]) -> str:
    """Markdown: per real network and setting, each solver's Ψ per seed (the share of units where
    below 1), the perturbed copy's output and weight error (medians), the solvers' seconds
    (medians); then the groups each miss leaves wrong."""
    rows = [r for path in jsonls for r in rows_of(path)]
    solvers = list(dict.fromkeys(r["solver"] for r in rows))
    lines = [
        "| network | setting | seeds | "
        + " | ".join(f"`{s}`: Ψ per seed" for s in solvers)
        + " | output error | weight error | seconds ("
        + " / ".join(s.removeprefix("resync-") for s in solvers)
        + ") |",
        "|---|---|---|" + "---|" * len(solvers) + "---|---|---|",
    ]
    misses = []
    for net in dict.fromkeys(r["family"] for r in rows):
        for kind in dict.fromkeys(r["kind"] for r in rows if r["family"] == net):
            values = sorted({r["value"] for r in rows if r["family"] == net and r["kind"] == kind})
            for v in sorted(values, reverse=kind == "quantize"):
                at = [r for r in rows if r["family"] == net and r["kind"] == kind and r["value"] == v]
                seeds = sorted({r["seed"] for r in at})
                cells, secs = [], []
                for s in solvers:
                    mine = sorted((r for r in at if r["solver"] == s), key=lambda r: r["seed"])
                    cells.append(
                        ", ".join(
                            f"{r['psi']:.0%}" if r["psi"] == 1 else f"**{r['psi']:.1%}** ({r['unit_share']:.2%})"
                            for r in mine
                        )
                    )
                    secs.append(f"{_median([r['seconds'] for r in mine]):.1f}")
                    wrong = [f"seed {r['seed']}: {r['missed']}" for r in mine if r.get("missed")]
                    if wrong:
                        misses.append(f"{net} {kind}={v:g} `{s}` (group:units misplaced): " + "; ".join(wrong))
                lines.append(
                    f"| {net} ({at[0].get('depth')} layers, {at[0].get('layers')} groups) | {kind}={v:g} | "
                    f"{','.join(map(str, seeds))} | "
                    + " | ".join(cells)
                    + f" | {_median([r['output_error'] for r in at]):.2g} | "
                    f"{_median([r['weight_error'] for r in at]):.2f} | {' / '.join(secs)} |"
                )
    return "\n".join(lines + [""] + [f"* {m}" for m in misses])


def blackbox_tables(jsonl: Path) -> str:
    """Markdown: the error-against-queries curve (per solver and setting: median max error and
    output error over seeds, seeds below the paper's 1e-4, queries counted) and ours by size."""
    rows = rows_of(jsonl)
    curve = [r for r in rows if r["study"] == "curve"]
    lines = [
        "| solver | setting | max error (median) | output error (median) | seeds < 1e-4 | queries counted |",
        "|---|---|---|---|---|---|",
    ]
    for solver in sorted({r["solver"] for r in curve}, reverse=True):
        mine = [r for r in curve if r["solver"] == solver]
        for v in sorted({r["value"] for r in mine}):
            at = [r for r in mine if r["value"] == v]
            below = sum(r["max_error"] < 1e-4 for r in at)
            lines.append(
                f"| `{solver}` | {at[0]['setting']} {v:,} | {_median([r['max_error'] for r in at]):.2g} | "
                f"{_median([r['output_error'] for r in at]):.2g} | {below}/{len(at)} | {_span([r['queries'] for r in at])} |"
            )
    sizes = [r for r in rows if r["study"] == "sizes"]
    lines += ["", "| d-h-o | max error per seed | queries per seed | seconds (solve) |", "|---|---|---|---|"]
    for name in dict.fromkeys(r["size"] for r in sizes):
        mine = sorted((r for r in sizes if r["size"] == name), key=lambda r: r["seed"])
        lines.append(
            f"| {name} | "
            + ", ".join(f"{r['max_error']:.2g}" for r in mine)
            + " | "
            + ", ".join(f"{r['queries']:,}" for r in mine)
            + f" | {_span([r['seconds'] for r in mine], '.2f')} |"
        )
    return "\n".join(lines)


def main() -> None:
    from common import DATA  # beside this script

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resync", type=Path, default=DATA / "tasks-resync.jsonl")
    parser.add_argument("--blackbox", type=Path, default=DATA / "tasks-blackbox.jsonl")
    parser.add_argument(
        "--real", type=Path, nargs="*", default=sorted(DATA.glob("tasks-resync-*.jsonl")), help="real networks' rows"
    )
    args = parser.parse_args()
    if args.resync.is_file():
        print(breakdown_table(args.resync) + "\n\n" + integrity_table(args.resync) + "\n")
    if args.real:
        print(real_resync_table(args.real) + "\n")
    if args.blackbox.is_file():
        print(blackbox_tables(args.blackbox))


if __name__ == "__main__":
    main()
