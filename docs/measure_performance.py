"""Regenerate the numbers and plot in docs/performance.md.

    python docs/measure_performance.py [--repeats 5] [--depths 16 32 ...] [--out docs/]

Part 1, the Jane Street puzzle: ``fast`` and ``paper`` side by side in one process, core solve
time (after loading) as the median of ``--repeats`` solves. Part 2 (only with ``--depths``):
one synthetic puzzle per depth from the default generator configuration (seed 0), ``fast``
solve time (median of 3) and exactness, and the slope of log(time) on log(depth). Hard puzzles
can take minutes per solve; ``reassembly bench`` with ``--timeout`` is the bounded way to map
depth (docs/performance.md). Writes ``performance.json`` (and ``performance-depth.png``).
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
from pathlib import Path

import numpy as np
import torch

from reassembly.answer import Answer
from reassembly.janestreet import find_janestreet, janestreet_answer
from reassembly.loader import load_puzzle
from reassembly.puzzle import Puzzle
from reassembly.registry import get_solver
from reassembly.scoring import score


def timed(name: str, puzzle: Puzzle, answer: Answer, repeats: int) -> dict:
    """Median core solve seconds over ``repeats`` solves, with the last solve's exactness."""
    solver = get_solver(name)
    seconds, exact, evaluations = [], None, None
    for _ in range(repeats):
        result = solver.solve(puzzle)
        seconds.append(result.seconds)
        exact, evaluations = score(puzzle, result.permutation, answer).exact, result.evaluations
    return {"solver": name, "median_s": statistics.median(seconds), "all_s": seconds, "exact": exact,
            "evaluations": evaluations}


def janestreet(repeats: int) -> dict | None:
    path = find_janestreet()
    if path is None:
        return None
    puzzle = load_puzzle(path)
    rows = [timed(name, puzzle, janestreet_answer(), repeats) for name in ("fast", "paper")]
    return {"rows": rows, "speedup": rows[1]["median_s"] / rows[0]["median_s"]}


def scaling(depths: list[int]) -> dict:
    from generators import PuzzleConfig, build_puzzle

    rows = []
    for depth in depths:
        puzzle, answer = build_puzzle(PuzzleConfig(depth=depth, seed=0), progress=True)
        rows.append({"depth": depth, **timed("fast", puzzle, answer, 3)})
        print(rows[-1], flush=True)
    slope, _ = np.polyfit(np.log([r["depth"] for r in rows]), np.log([r["median_s"] for r in rows]), 1)
    return {"rows": rows, "exponent": float(slope)}


def plot(scale: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = np.array([r["depth"] for r in scale["rows"]], dtype=float)
    t = np.array([r["median_s"] for r in scale["rows"]])
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.loglog(d, t, "o-", label="fast (median of 3)")
    fit = np.exp(np.polyval(np.polyfit(np.log(d), np.log(t), 1), np.log(d)))
    ax.loglog(d, fit, "--", color="grey", label=f"fit: time ∝ depth^{scale['exponent']:.2f}")
    ax.set_xticks(d, [str(int(x)) for x in d])
    ax.set_xlabel("depth (blocks)")
    ax.set_ylabel("solve time after loading (s)")
    ax.set_title("fast: solve time vs depth (2-core CPU)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depths", type=int, nargs="*", default=[])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent)
    args = parser.parse_args()
    env = {"cpu": platform.processor() or platform.machine(), "torch": torch.__version__,
           "threads": torch.get_num_threads()}
    result = {"environment": env, "janestreet": janestreet(args.repeats)}
    print(json.dumps(result["janestreet"], indent=1), flush=True)
    if args.depths:
        result["scaling"] = scaling(args.depths)
        plot(result["scaling"], args.out / "performance-depth.png")
    (args.out / "performance.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
