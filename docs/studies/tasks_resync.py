"""Re-synchronisation breakdown: Ψ of the paper's cosine matching and of ours against the strength
of each perturbation (noise, quantisation, pruning, fine-tuning), and the integrity check under an
attack; the numbers and the plot of docs/tasks.md.

    python docs/studies/tasks_resync.py              # report: seeds 0-2, relu, depth 8
    python docs/studies/tasks_resync.py --seeds 100 101 --out /tmp/heldout.jsonl --plot /tmp/heldout.png --bench runs/heldout  # held-out seeds, for choosing defaults

Every solve is a run of ``reassembly.Benchmark(task="resync", perturb=[KIND=VALUE])``, the same as
``reassembly bench --task resync --perturb KIND=VALUE``: one bench folder (``--bench``) holds every
problem and row, and the referee scores each. Fine-tuning settings are generated in increasing
order of steps, so each continues the previous run of its seed (a run's first k steps are the run
of k steps). A rerun skips the runs stored in the bench folder; the study's rows
(docs/studies/data/tasks-resync.jsonl) are rewritten from them after each setting.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

from common import DATA, DOCS, bench_rows, write_rows  # beside this script

SOLVERS = ["resync-cosine", "resync-match", "resync-match[method=likelihood]"]
METRICS = (
    "psi",
    "unit_share",
    "output_error",
    "weight_error",
    "flagged",
    "false_flags",
    "flag_recall",
    "flag_precision",
    "layers_exact",
)
SWEEPS: dict[str, list[float]] = {
    "noise": [0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0],
    "quantize": [8, 6, 4, 3, 2, 1],
    "prune": [0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999],
    "finetune": [1000, 3000, 10000, 20000, 30000, 50000],
    "rescale=0.05+noise": [0.0, 0.5, 1.0, 1.5, 2.0],
}


def perturbations(kind: str, value: float) -> list[str]:
    """The ``--perturb`` options of one setting (the attack's: rescale 5 % of units, then noise)."""
    if kind == "rescale=0.05+noise":
        return ["rescale=0.05"] + ([f"noise={value:g}"] if value else [])
    return [f"{kind}={value:g}"]


def run(
    seeds: list[int],
    bench: Path,
    out: Path,
    family: str = "relu",
    depth: int = 8,
    jobs: int = 1,
    timeout: float = 600.0,
    sweeps: dict[str, list[float]] | None = None,
    options: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Every setting of ``sweeps`` on every seed, each solver of :data:`SOLVERS` once; the rows,
    also written to ``out``.

    Parameters
    ----------
    seeds
        Generator seeds (report on 0-2, choose defaults on 100 and up).
    bench
        The bench folder (problems, answers, the referee's rows).
    out
        The study's rows (JSON lines).
    family, depth
        The block family and the depth of the networks.
    jobs, timeout
        Solves at a time, and seconds per solve.
    sweeps
        Perturbation kind -> its settings (default :data:`SWEEPS`).
    options
        Further generator options (``width``, ``epochs``, ...; default: the generator's defaults).
    """
    rows: list[dict[str, Any]] = []
    for seed in seeds:
        for kind, values in (SWEEPS if sweeps is None else sweeps).items():
            for value in sorted(values):  # fine-tuning: each run continues the shorter one
                found = bench_rows(
                    bench,
                    METRICS,
                    task="resync",
                    solvers=SOLVERS,
                    seeds=1,
                    first_seed=seed,
                    generator={**(options or {}), "block": family, "depth": depth},
                    perturb=perturbations(kind, value),
                    jobs=jobs,
                    threads=1,
                    timeout=timeout,
                )
                rows += [
                    {"kind": kind, "value": value, "seed": seed, "family": family, "solver": r["variant"], **r}
                    for r in found
                ]
                write_rows(out, rows)
                print(kind, value, seed, " ".join(f"{r['variant']}: Ψ={r['psi']}" for r in found), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--family", default="relu")
    parser.add_argument("--depth", type=int, default=8)
    parser.add_argument("--bench", type=Path, default=Path("runs/tasks-resync"), help="bench folder (resumable)")
    parser.add_argument("--out", type=Path, default=DATA / "tasks-resync.jsonl")
    parser.add_argument("--plot", type=Path, default=DOCS / "tasks-resync.png")
    parser.add_argument("--jobs", "-j", type=int, default=1, help="solves at a time")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per solve")
    args = parser.parse_args()
    torch.set_num_threads(1)  # generation (training, fine-tuning) runs here; each solve gets one thread too
    run(args.seeds, args.bench, args.out, args.family, args.depth, args.jobs, args.timeout)
    from tasks_plots import resync_figure

    resync_figure(args.out, args.plot)
    print(f"rows: {args.out}; plot: {args.plot}; bench: {args.bench}")


if __name__ == "__main__":
    main()
