"""How right the ``transformer`` solver's start is, before and after relink, kind by kind.

A study, not a solver: it reads each puzzle's kept answer only to score the solver's own start
(circuits and seriation, :func:`~solvers.transformer.start.best_start`) and the relinked start
(:class:`~solvers.transformer.relink.Relink`), on the search's rows::

    python docs/studies/real_start_study.py /tmp/r24/s12-100 /tmp/r24/s12-101 /tmp/r24/s12-102

One row per puzzle and stage: the exact loss on the search's rows, Kendall τ of the layer order
(the MLP components' positions), and for each component kind and each norm slot the share of
positions holding the true layer's piece(s). Use held-out seeds (>= 100) to choose anything.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from reassembly.answer import load_answer
from reassembly.loader import load_puzzle
from reassembly.scoring import score
from solvers.transformer import TransformerSolver
from solvers.transformer.start import best_start


def right_by_kind(arr: torch.Tensor, truth: torch.Tensor, columns: dict[str, list[int]]) -> dict[str, float]:
    """Share of positions whose columns of each kind equal the truth's.

    Parameters
    ----------
    arr
        An arrangement ``(D, S)``.
    truth
        The true arrangement.
    columns
        Kind name -> its columns.
    """
    return {name: float((arr[:, cols] == truth[:, cols]).all(1).double().mean()) for name, cols in columns.items()}


def study(root: Path) -> list[dict]:
    """The start's and the relinked start's rows for one puzzle.

    Parameters
    ----------
    root
        A real-network puzzle directory with its ``answer.json``.
    """
    puzzle, answer = load_puzzle(root), load_answer(root / "answer.json")
    solver = TransformerSolver()
    _, groups, options, ev, _ = solver.prepare(puzzle)
    slots = ev.stack.slots
    truth = ev.stack.arrangement(answer.assembly(puzzle.layout))
    columns = {"+".join(slots[c] for c in k): list(k) for k in groups.kinds}
    columns |= {slots[c]: [c] for pool in groups.singles for c in pool}
    t0 = time.perf_counter()
    start, _ = best_start(ev, options)
    stages = {"start": start}
    if solver.relink.applies(ev, groups):
        stages["relink"], details = solver.relink.run(ev, start, groups)
    rows = []
    for stage, arr in stages.items():
        sc = score(puzzle, ev.stack.assembly(arr, ()), answer)
        rows.append(
            {"puzzle": root.name, "stage": stage, "loss": float(ev.loss(ev.states(arr)[-1])), "tau": sc.kendall_tau}
            | right_by_kind(arr, truth, columns)
        )
    if "relink" in stages:
        rows[-1]["relaxed losses (as seriated, turned)"] = details["direction_losses"]
    rows[-1]["seconds"] = time.perf_counter() - t0
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("puzzles", type=Path, nargs="+", help="real-network puzzle directories (with answer.json)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    for root in args.puzzles:
        for r in study(root):
            print(" | ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in r.items()), flush=True)


if __name__ == "__main__":
    main()
