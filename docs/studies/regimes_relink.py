"""Why relink works: the alternation of docs/regimes.md, measured against the truth (a diagnostic).

    reassembly generate --out /tmp/di32s100 --depth 32 --init default --seed 100
    python docs/studies/regimes_relink.py /tmp/di32s100              # the alternation table
    python docs/studies/regimes_relink.py /tmp/di32s100 --true-order # the fit alone, on the true order

Each round: the order search of ``fast`` with the pairing held fixed (relink off, no time limit: its
iterated search stops on its own patience, so the table does not depend on the machine), then one
relaxed fit (:func:`solvers.fast.relink.relaxed_pairing`) on the order it found. The puzzle's
``answer.json`` (which the generator writes beside it, apart from what a solver reads) is used only
to count the blocks paired right and the order's Kendall τ; no solver sees it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import kendalltau

import solvers.fast.solver as fast
from reassembly.answer import Assembly
from reassembly.kernel import PieceStack
from reassembly.loader import load_puzzle
from solvers.fast.relink import Relink, relaxed_pairing
from solvers.grouping import Grouping, group_pieces
from solvers.rows import evaluator, single_head


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("puzzle", type=Path)
    parser.add_argument("--true-order", action="store_true", help="fit once on the true order, from the uniform start")
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(1)
    puzzle = load_puzzle(args.puzzle)
    truth = json.loads((args.puzzle / "answer.json").read_text())["ids"]
    D, head = puzzle.layout.depth, single_head(puzzle)
    stack = PieceStack(puzzle, torch.float32)
    true_blocks = [tuple(truth[2 * k : 2 * k + 2]) for k in range(D)]
    position = {b[0]: k for k, b in enumerate(true_blocks)}
    relink = Relink()
    fit_rows = evaluator(puzzle, stack, head, relink.rows_for(D, puzzle.pred.shape[-1]), 1)

    def report(blocks: list[tuple[int, int]], what: str) -> None:
        right = len(set(blocks) & set(true_blocks))
        tau = kendalltau(range(D), [position[b[0]] for b in blocks]).statistic
        print(f"| {what} | {right}/{D} | {tau:.2f} |", flush=True)

    def fit(blocks: list[tuple[int, int]]) -> list[tuple[int, int]]:
        arr = stack.arrangement(Assembly(tuple(blocks), head))
        arr[:, 1] = relaxed_pairing(fit_rows, arr, 1, torch.arange(D), relink.iterations)
        return list(stack.assembly(arr, head).blocks)

    print("| step | blocks paired right | Kendall τ of the order |\n|---|---|---|")
    if args.true_order:
        shuffled = [(b[0], true_blocks[(k + 1) % D][1]) for k, b in enumerate(true_blocks)]  # every pair wrong
        report(fit(shuffled), "one fit on the true order")
        return
    blocks = list(group_pieces(puzzle, "units").blocks)
    report(blocks, "weight scores")
    for rnd in range(args.rounds):
        fixed = tuple(sorted(blocks))
        fast.group_pieces = lambda *_, b=fixed: Grouping(b, np.ones(D), 1.0, np.ones(D))  # hold the pairing
        t0 = time.perf_counter()
        result = fast.FastSolver(relink=Relink(rounds=0)).solve(puzzle)
        blocks = list(result.assembly.blocks)
        mse = result.certificate["final_mse_all_rows"]
        report(blocks, f"round {rnd}: order search ({time.perf_counter() - t0:.0f} s, MSE {mse:.3g})")
        if mse <= 1e-9:
            break
        blocks = fit(blocks)
        report(blocks, f"round {rnd}: relaxed fit")


if __name__ == "__main__":
    main()
