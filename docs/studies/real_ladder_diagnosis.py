"""Where the ``transformer`` solver fails as depth grows: linking components into layers, or ordering.

A study, not a solver: it reads each puzzle's kept answer to build starts the solver never sees,
then runs the solver's own local search (same rows, tokens, moves and loss) from them, and scores
what it returns as the referee does::

    python docs/studies/real_ladder_diagnosis.py /tmp/real/smollm2-l12-s100 --time-limit 150

Starts, each from the true arrangement:

- ``linked``: every layer whole (the true linking), the layers in a random order: is ordering alone solved?
- ``ordered``: the first component kind (and nothing else) at its true positions, every other
  kind's components and every norm gain scattered over the layers at random: is linking alone solved?
- ``solver``: the solver's own start (circuits and seriation), for comparison.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from reassembly.answer import load_answer
from reassembly.loader import load_puzzle
from reassembly.scoring import score
from solvers.transformer import LocalSearch, TransformerSolver
from solvers.transformer.moves import Groups
from solvers.transformer.start import best_start


def linked(truth: torch.Tensor, groups: Groups, rng: np.random.Generator) -> torch.Tensor:
    """The true layers in a random order.

    Parameters
    ----------
    truth
        The true arrangement ``(D, S)``.
    groups
        Its column groups (unused: whole layers move).
    rng
        Draws the order.
    """
    return truth[torch.from_numpy(rng.permutation(truth.shape[0]))]


def ordered(truth: torch.Tensor, groups: Groups, rng: np.random.Generator) -> torch.Tensor:
    """The first kind's components at their true positions; every other kind's components, and
    the pieces of each pool of single pieces, shuffled over the layers.

    Parameters
    ----------
    truth
        The true arrangement ``(D, S)``.
    groups
        Its column groups.
    rng
        Draws the shuffles.
    """
    arr, D = truth.clone(), truth.shape[0]
    for cols in groups.kinds[1:]:
        arr[:, list(cols)] = truth[torch.from_numpy(rng.permutation(D))][:, list(cols)]
    for cols in groups.singles:
        values = truth[:, list(cols)].flatten()[torch.from_numpy(rng.permutation(D * len(cols)))]
        arr[:, list(cols)] = values.reshape(D, len(cols))
    return arr


STARTS = {"linked": linked, "ordered": ordered}


def diagnose(root: Path, time_limit: float, seed: int, rotate: bool) -> list[dict]:
    """One row per start: how far the solver's search gets from it.

    Parameters
    ----------
    root
        A real-network puzzle directory with its ``answer.json``.
    time_limit
        Seconds per search.
    seed
        Draws the starts and the search's kicks.
    rotate
        Whether the search also rotates a kind's components (``LocalSearch(rotate=...)``).
    """
    puzzle, answer = load_puzzle(root), load_answer(root / "answer.json")
    solver = TransformerSolver(search=LocalSearch(rotate=rotate), random_state=seed)
    _, groups, options, ev, floor = solver.prepare(puzzle)
    stack = ev.stack
    truth = stack.arrangement(answer.assembly(puzzle.layout))
    starts = {name: make(truth, groups, np.random.default_rng(seed)) for name, make in STARTS.items()}
    starts["solver"] = best_start(ev, options)[0]
    rows = []
    for name, start in starts.items():
        before = score(puzzle, stack.assembly(start, ()), answer)
        t0, e0 = time.perf_counter(), ev.evaluations
        arr, loss, log = solver.search.run(
            ev, start, groups, floor, ev.clock() + time_limit, np.random.default_rng(seed)
        )
        after = score(puzzle, stack.assembly(arr, ()), answer)
        rows.append(
            {
                "puzzle": root.name,
                "start": name,
                "rotate": rotate,
                "start_grouping": before.grouping_accuracy,
                "start_tau": before.kendall_tau,
                "exact": after.exact,
                "grouping": after.grouping_accuracy,
                "tau": after.kendall_tau,
                "mse": after.mse,
                "seconds": time.perf_counter() - t0,
                "evaluations": ev.evaluations - e0,
                "stop": log.stop,
            }
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("puzzles", type=Path, nargs="+", help="real-network puzzle directories (with answer.json)")
    ap.add_argument("--time-limit", type=float, default=150.0, help="seconds per search")
    ap.add_argument("--seed", type=int, default=100, help="draws the starts and the kicks (>= 100: held out)")
    ap.add_argument("--no-rotate", action="store_true", help="the search without rotations (main's)")
    args = ap.parse_args()
    print(
        "| puzzle | start | start grouping | start τ | exact | grouping | τ | output MSE | seconds | evaluations | stop |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for root in args.puzzles:
        for r in diagnose(root, args.time_limit, args.seed, not args.no_rotate):
            print(
                f"| {r['puzzle']} | {r['start']} | {r['start_grouping']:.1%} | {r['start_tau']:.3f} | {'yes' if r['exact'] else 'no'} "
                f"| {r['grouping']:.1%} | {r['tau']:.3f} | {r['mse']:.3g} | {r['seconds']:.1f} | {r['evaluations']} | {r['stop']} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
