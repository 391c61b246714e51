"""Black-box reconstruction study: the largest parameter error after canonicalisation against the
queries spent, for the fitted-surrogate baseline (``blackbox-random``: queries fixed in advance)
and ours (``blackbox-kinks``: under a budget), and ours across network sizes; the numbers and the
plot of docs/tasks.md.

    python docs/studies/tasks_blackbox.py                    # report: seeds 0-2 (a few minutes)
    python docs/studies/tasks_blackbox.py --seeds 100        # where the defaults were chosen

Each network is what ``reassembly bench --task blackbox --width D --hidden H --output O`` generates
(trained on the configuration's synthetic data); the oracle counts every row, as the harness's does.
Rows go to docs/studies/data/tasks-blackbox.jsonl (a rerun skips the rows already there).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from generators.blackbox import build_blackbox
from generators.config import PuzzleConfig
from reassembly.query.mlp import forward, output_error, parameter_errors
from reassembly.query.oracle import Oracle
from reassembly.registry import get_solver

HERE = Path(__file__).parent
CURVE_SIZE = (8, 16, 2)
CURVES = {"blackbox-random": [("queries", q) for q in (64, 256, 1024)],
          "blackbox-kinks": [("budget", b) for b in (250, 500, 750, 1000, 1250, 1500, 2000)]}
SIZES = [(8, 16, 2), (32, 32, 4), (64, 64, 10), (128, 128, 10)]
RANDOM_OPTIONS = {"population": 1, "max_iter": 500}


def run_one(size: tuple[int, int, int], seed: int, solver: str, what: str, value: int) -> dict:
    d, h, o = size
    config = PuzzleConfig.from_options({"block": "relu", "depth": 2, "width": d, "hidden": h, "output": o, "seed": seed})
    problem, truth, _ = build_blackbox(config, 10**9, progress=False)
    problem.oracle = Oracle(lambda X: forward(truth, X), d, value if what == "budget" else None)
    options = {**RANDOM_OPTIONS, "queries": value} if solver == "blackbox-random" else {}
    t0 = time.perf_counter()
    result = get_solver(solver, **options).solve(problem)
    seconds = time.perf_counter() - t0
    probes = torch.randn(4096, d, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return {"size": f"{d}-{h}-{o}", "seed": seed, "solver": solver, "setting": what, "value": value, "queries": problem.oracle.used,
            **parameter_errors(truth, result.params), "output_error": output_error(truth, result.params, probes),
            "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=HERE / "tasks-blackbox.jsonl")
    parser.add_argument("--plot", type=Path, default=HERE / "tasks-blackbox.png")
    args = parser.parse_args()
    torch.set_num_threads(1)
    done = set()
    if args.out.exists():
        done = {(r["study"], r["size"], r["seed"], r["solver"], r["value"])
                for r in map(json.loads, args.out.read_text().splitlines())}
    plan = [("curve", CURVE_SIZE, s, solver, what, v) for s in args.seeds for solver, grid in CURVES.items() for what, v in grid]
    plan += [("sizes", size, s, "blackbox-kinks", "budget", 10**9) for size in SIZES for s in args.seeds]
    with args.out.open("a") as fh:
        for study, size, seed, solver, what, value in plan:
            if (study, "-".join(map(str, size)), seed, solver, value) in done:
                continue
            row = run_one(size, seed, solver, what, value)
            fh.write(json.dumps({"study": study, **row}) + "\n")
            fh.flush()
            print(study, row["size"], seed, solver, value, f"{row['max_error']:.2e}", row["queries"], flush=True)
    from tasks_plots import blackbox_figure

    blackbox_figure(args.out, args.plot)
    print(f"rows: {args.out}; plot: {args.plot}")


if __name__ == "__main__":
    main()
