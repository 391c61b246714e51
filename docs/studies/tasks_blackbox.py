"""Black-box reconstruction study: the largest parameter error after canonicalisation against the
queries spent, for the fitted-surrogate baseline (``blackbox-random``: queries fixed in advance)
and ours (``blackbox-kinks``: under a budget), and ours across network sizes; the numbers and the
plot of docs/tasks.md.

    python docs/studies/tasks_blackbox.py            # report: seeds 0-2 (a few minutes)
    python docs/studies/tasks_blackbox.py --seeds 100 --out /tmp/bb.jsonl --plot /tmp/bb.png --bench runs/bb-heldout  # where the defaults were chosen

Every solve is a run of ``reassembly.Benchmark(task="blackbox", task_options={"budget": N})``, the
same as ``reassembly bench --task blackbox --width D --hidden H --output O -t budget=N``: the
oracle lives in the harness, which counts every row and refuses rows beyond the budget, and the
referee scores each answer. One bench folder (``--bench``) holds every problem and row; a rerun
skips the runs stored there, and the study's rows (docs/studies/data/tasks-blackbox.jsonl) are
rewritten from them.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

from common import DATA, DOCS, bench_rows, write_rows  # beside this script

CURVE_SIZE = (8, 16, 2)
#: ``blackbox-random`` asks a fixed number of rows (population 1, 500 L-BFGS iterations);
#: ``blackbox-kinks`` runs under a budget.
RANDOM_QUERIES = [64, 256, 1024]
RANDOM_OPTIONS = "population=1,max_iter=500"
KINKS_BUDGETS = [250, 500, 750, 1000, 1250, 1500, 2000]
SIZES = [(8, 16, 2), (32, 32, 4), (64, 64, 10), (128, 128, 10)]
UNLIMITED = 10**9  # the budget where a run is not limited by one
METRICS = ("max_error", "mean_error", "output_error", "queries", "budget", "query_calls", "queries_refused")


def run(
    seeds: list[int],
    bench: Path,
    out: Path,
    jobs: int = 1,
    timeout: float = 600.0,
    random_queries: list[int] = RANDOM_QUERIES,
    kinks_budgets: list[int] = KINKS_BUDGETS,
    sizes: list[tuple[int, int, int]] = SIZES,
) -> list[dict[str, Any]]:
    """The error-against-queries curve at :data:`CURVE_SIZE` and ours at every size of ``sizes``,
    on every seed; the rows, also written to ``out``.

    Parameters
    ----------
    seeds
        Generator seeds (report on 0-2, choose defaults on 100 and up).
    bench
        The bench folder (problems, answers, the referee's rows).
    out
        The study's rows (JSON lines).
    jobs, timeout
        Solves at a time, and seconds per solve.
    random_queries, kinks_budgets, sizes
        The curve's settings (rows ``blackbox-random`` asks for, budgets of ``blackbox-kinks``) and
        the sizes ``d-h-o`` ours runs at without a budget (defaults: the report's).
    """
    rows: list[dict[str, Any]] = []

    def bench_at(size: tuple[int, int, int], seed: int, budget: int, solvers: list[str]) -> list[dict[str, Any]]:
        d, h, o = size
        return bench_rows(
            bench,
            METRICS,
            task="blackbox",
            solvers=solvers,
            seeds=1,
            first_seed=seed,
            jobs=jobs,
            threads=1,
            timeout=timeout,
            generator={"block": "relu", "depth": 2, "width": d, "hidden": h, "output": o},
            task_options={"budget": budget},
        )

    def add(study: str, size: tuple[int, int, int], seed: int, setting: str, found: list[dict[str, Any]]) -> None:
        for r in found:
            value = r["params.queries"] if setting == "queries" else r["budget"]
            rows.append(
                {
                    "study": study,
                    "size": "-".join(map(str, size)),
                    "seed": seed,
                    "solver": r["variant"].split("[")[0],
                    "setting": setting,
                    "value": value,
                    **r,
                }
            )
            print(study, rows[-1]["size"], seed, r["variant"], value, f"{r['max_error']:.2e}", r["queries"], flush=True)
        write_rows(out, rows)

    queries = ",".join(map(str, random_queries))
    for seed in seeds:
        add(
            "curve",
            CURVE_SIZE,
            seed,
            "queries",
            bench_at(CURVE_SIZE, seed, UNLIMITED, [f"blackbox-random[queries=[{queries}],{RANDOM_OPTIONS}]"]),
        )
        for budget in kinks_budgets:
            add("curve", CURVE_SIZE, seed, "budget", bench_at(CURVE_SIZE, seed, budget, ["blackbox-kinks"]))
    for size in sizes:
        for seed in seeds:
            add("sizes", size, seed, "budget", bench_at(size, seed, UNLIMITED, ["blackbox-kinks"]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--bench", type=Path, default=Path("runs/tasks-blackbox"), help="bench folder (resumable)")
    parser.add_argument("--out", type=Path, default=DATA / "tasks-blackbox.jsonl")
    parser.add_argument("--plot", type=Path, default=DOCS / "tasks-blackbox.png")
    parser.add_argument("--jobs", "-j", type=int, default=1, help="solves at a time")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per solve")
    args = parser.parse_args()
    torch.set_num_threads(1)  # training runs here; each solve gets one thread too
    run(args.seeds, args.bench, args.out, args.jobs, args.timeout)
    from tasks_plots import blackbox_figure

    blackbox_figure(args.out, args.plot)
    print(f"rows: {args.out}; plot: {args.plot}; bench: {args.bench}")


if __name__ == "__main__":
    main()
