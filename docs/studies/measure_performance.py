"""Regenerate the numbers and plot in docs/performance.md.

    python docs/studies/measure_performance.py [--repeats 5] [--bench DIR ...]

Part 1, the Jane Street puzzle: ``fast`` and ``paper`` side by side in one process, core solve
time (after loading) as the median of ``--repeats`` solves. Part 2 (only with ``--bench``): the
time-vs-depth table of ``reassembly bench`` runs (the bounded way to map depth, with
``--timeout``; docs/performance.md gives the command) and the growth exponent of ``fast``'s
solve time, fitted over its exact solves. Writes ``docs/studies/data/performance.json`` (and
``docs/performance-depth.png``).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
from pathlib import Path

import numpy as np
import torch

from common import DATA, DOCS  # beside this script
from reassembly.answer import Answer
from reassembly.janestreet import find_janestreet, janestreet_answer
from reassembly.loader import load_puzzle
from reassembly.puzzle import Puzzle
from reassembly.registry import get_solver
from reassembly.scoring import score


def timed(name: str, puzzle: Puzzle, answer: Answer, repeats: int) -> dict:
    """Median core solve seconds over ``repeats`` solves (after one warm-up), with the last solve's exactness."""
    import time

    solver = get_solver(name)
    solver.solve(puzzle)
    seconds, exact, evaluations = [], None, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = solver.solve(puzzle)
        seconds.append(time.perf_counter() - t0)
        exact, evaluations = score(puzzle, result.assembly, answer).exact, result.evaluations
    return {
        "solver": name,
        "median_s": statistics.median(seconds),
        "all_s": seconds,
        "exact": exact,
        "evaluations": evaluations,
    }


def janestreet(repeats: int) -> dict | None:
    path = find_janestreet()
    if path is None:
        return None
    puzzle = load_puzzle(path)
    rows = [timed(name, puzzle, janestreet_answer(), repeats) for name in ("fast", "paper")]
    return {"rows": rows, "speedup": rows[1]["median_s"] / rows[0]["median_s"]}


def scaling(benches: list[Path]) -> dict:
    """Solve time against depth from ``reassembly bench`` runs: every row, and the growth exponent
    of ``fast``'s time fitted (least squares on log-log) over its exact solves only."""
    import pandas as pd

    runs = pd.concat([pd.read_csv(bench / "results.csv") for bench in benches], ignore_index=True)
    rows = runs[["solver", "depth", "seed", "status", "exact", "kendall_tau", "mse", "seconds"]].sort_values(
        ["solver", "depth"]
    )
    exact = rows[(rows.solver == "fast") & (rows.exact == True)]  # noqa: E712 (pandas mask)
    fit = (
        np.polyfit(np.log(exact.depth), np.log(exact.seconds), 1) if exact.depth.nunique() >= 2 else [float("nan"), 0.0]
    )
    return {
        "bench": [str(b) for b in benches],
        "rows": json.loads(rows.to_json(orient="records")),
        "exponent": float(fit[0]),
        "fit_log_intercept": float(fit[1]),
        "fit_points": int(len(exact)),
    }


def plot(scale: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd
    from matplotlib.ticker import NullLocator

    rows = pd.DataFrame(scale["rows"])
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for (solver, group), colour in zip(rows.groupby("solver"), ("tab:blue", "tab:orange", "tab:green", "tab:red")):
        ax.plot(group.depth, group.seconds, "-", color=colour, alpha=0.5)
        solved = group.exact == True  # noqa: E712
        if solved.any():
            ax.plot(group.depth[solved], group.seconds[solved], "o", color=colour, label=f"{solver}: exact")
        if (~solved).any():
            ax.plot(
                group.depth[~solved],
                group.seconds[~solved],
                "x",
                color=colour,
                ms=9,
                label=f"{solver}: not exact / timeout",
            )
    d = np.array(sorted(rows.depth.unique()), dtype=float)
    if np.isfinite(scale["exponent"]):
        ax.plot(
            d,
            np.exp(scale["fit_log_intercept"]) * d ** scale["exponent"],
            "--",
            color="grey",
            label=f"fit over fast's exact solves: time ∝ depth^{scale['exponent']:.2f}",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticks(d, [str(int(x)) for x in d])
    ax.set_xlabel("depth (blocks)")
    ax.set_ylabel("solve time after loading (s)")
    ax.set_title("solve time vs depth, default generator (2-core CPU)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--bench", type=Path, nargs="+", help="`reassembly bench` output directories to map time against depth"
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=DATA / "performance.json", help="the numbers (JSON)")
    parser.add_argument("--plot", type=Path, default=DOCS / "performance-depth.png", help="time against depth")
    args = parser.parse_args()
    env = {
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }
    path = args.out
    result = json.loads(path.read_text()) if path.is_file() else {}  # keep sections not re-measured
    result.update({"environment": env, "janestreet": janestreet(args.repeats)})
    print(json.dumps(result["janestreet"], indent=1), flush=True)
    if args.bench:
        result["scaling"] = scaling(args.bench)
        plot(result["scaling"], args.plot)
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
