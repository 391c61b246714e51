"""Re-synchronisation breakdown: Ψ of the paper's cosine matching and of ours against the strength
of each perturbation (noise, quantisation, pruning, fine-tuning), and the integrity check under an
attack; the numbers and the plot of docs/tasks.md.

    python docs/studies/tasks_resync.py                      # report: seeds 0-2, relu, depth 8 (minutes)
    python docs/studies/tasks_resync.py --seeds 100 101 --out /tmp/heldout.jsonl --plot /tmp/heldout.png  # held-out seeds, for choosing defaults

Every problem is what ``reassembly bench --task resync --perturb KIND=VALUE`` generates (fine-tuning
is one run per seed, read at each step count: a run's first k steps are the run of k steps).
Rows go to docs/studies/data/tasks-resync.jsonl as they finish (a rerun skips the rows already there).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from generators.build import trained_model
from generators.config import PuzzleConfig
from generators.perturb import finetune
from generators.resync import build_resync, permuted_copy, problem_of
from generators.seeding import generator
from reassembly.registry import get_solver
from reassembly.resync.scoring import judge

HERE = Path(__file__).parent
SOLVERS = {"resync-cosine": {}, "resync-match": {}, "resync-match[method=likelihood]": {"method": "likelihood"}}
SWEEPS = {
    "noise": [0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0],
    "quantize": [8, 6, 4, 3, 2, 1],
    "prune": [0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999],
    "finetune": [1000, 3000, 10000, 20000, 30000, 50000],
    "rescale=0.05+noise": [0.0, 0.5, 1.0, 1.5, 2.0],
}


def solve_all(problem, answer, seconds: float, labels: list[str]) -> list[dict]:
    rows = []
    for name in labels:
        t0 = time.perf_counter()
        result = get_solver(name.split("[")[0], **SOLVERS[name]).solve(problem)
        scored = judge(problem, answer, result.perms, result.flags)
        rows.append({"solver": name, "seconds": time.perf_counter() - t0, "build_seconds": seconds,
                     **{k: scored.get(k) for k in ("psi", "unit_share", "output_error", "weight_error", "flagged",
                                                    "false_flags", "flag_recall")}})
    return rows


def perturbations(kind: str, value: float) -> list[str]:
    if kind == "rescale=0.05+noise":
        return ["rescale=0.05"] + ([f"noise={value}"] if value else [])
    return [f"{kind}={value}"]


def run(seeds: list[int], family: str, depth: int, out: Path) -> None:
    done = set()
    if out.exists():
        done = {(r["kind"], r["value"], r["seed"], r["solver"]) for r in map(json.loads, out.read_text().splitlines())}

    def missing(kind: str, value: float, seed: int) -> list[str]:
        return [name for name in SOLVERS if (kind, value, seed, name) not in done]

    with out.open("a") as fh:
        def emit(kind: str, value: float, seed: int, problem, answer, seconds: float) -> None:
            for row in solve_all(problem, answer, seconds, missing(kind, value, seed)):
                fh.write(json.dumps({"kind": kind, "value": value, "seed": seed, "family": family, **row}) + "\n")
            fh.flush()
            print(kind, value, seed, flush=True)

        for seed in seeds:
            base = {"block": family, "depth": depth, "seed": seed}
            for kind, values in SWEEPS.items():
                todo = [v for v in values if missing(kind, v, seed)]
                if kind == "finetune" and todo:
                    config = PuzzleConfig.from_options(base, [f"finetune={max(todo)}"])
                    trained = trained_model(config, progress=False)
                    copy, perms = permuted_copy(trained, config)
                    t0 = time.perf_counter()

                    def snap(k: int, model) -> None:
                        if k in todo:
                            emit(kind, k, seed, *problem_of(trained, config, model, perms), time.perf_counter() - t0)

                    finetune(copy, max(todo), config, trained.teacher, generator(seed, "perturb:0:finetune"), on_step=snap)
                    continue
                for value in todo:
                    t0 = time.perf_counter()
                    problem, answer, _ = build_resync(PuzzleConfig.from_options(base, perturbations(kind, value)), progress=False)
                    emit(kind, value, seed, problem, answer, time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--family", default="relu")
    parser.add_argument("--depth", type=int, default=8)
    parser.add_argument("--out", type=Path, default=HERE / "tasks-resync.jsonl")
    parser.add_argument("--plot", type=Path, default=HERE / "tasks-resync.png")
    args = parser.parse_args()
    torch.set_num_threads(1)
    run(args.seeds, args.family, args.depth, args.out)
    from tasks_plots import resync_figure

    resync_figure(args.out, args.plot)
    print(f"rows: {args.out}; plot: {args.plot}")


if __name__ == "__main__":
    main()
