"""How the evaluator's work clock compares with the wall clock on this machine.

The ``transformer`` solver reads its budget on :meth:`reassembly.kernel.Evaluator.clock`: block
calls and state vectors counted at the reference machine's rate (``CALL_SECONDS``,
``PARAM_SECONDS``), so that a solve is the same whatever the load. This study times single block
calls of each puzzle's first layer on 8 to 1,024 token positions against the model, and with
``--solve`` runs the solver and prints each stage's wall-clock and work seconds.

    python docs/studies/work_clock_study.py /tmp/real2/smollm2-l6-s0 /tmp/real2/minilm-l6-s0
    python docs/studies/work_clock_study.py /tmp/r24/s24-100 --solve      # one thread (the bench's)

Run it with nothing else on the machine for the block timings; for ``--solve``, the way the bench
runs (two solves at a time, one thread each) is the reference the constants were set for.
"""

from __future__ import annotations

import argparse
import time

import torch

from reassembly.kernel import PieceStack
from reassembly.kernel.evaluator import CALL_SECONDS, PARAM_SECONDS
from reassembly.loader import load_puzzle
from solvers.rows import evaluator
from solvers.transformer import TransformerSolver


def block_timings(path: str) -> None:
    puzzle = load_puzzle(path)
    ev = evaluator(puzzle, PieceStack(puzzle, torch.float32), ())
    block = ev.stack.compiled([0] * len(ev.stack.slots))  # any row: the cost does not depend on which pieces
    params = ev.block_params
    d = ev.X.shape[-1]
    print(f"{path}: {params:,} parameters a block")
    print("| positions | measured ms | model ms | model / measured |")
    print("|---|---|---|---|")
    for n in (8, 16, 64, 256, 1024):
        x = torch.randn(n // 8, 8, d, dtype=ev.X.dtype)
        block(x)
        reps = max(3, 400 // n)
        t = time.perf_counter()
        for _ in range(reps):
            block(x)
        measured = (time.perf_counter() - t) / reps
        model = CALL_SECONDS + n * params * PARAM_SECONDS
        print(f"| {n} | {1e3 * measured:.2f} | {1e3 * model:.2f} | {model / measured:.2f} |")


def solve(path: str) -> None:
    result = TransformerSolver().solve(load_puzzle(path))
    print(f"{path}: each stage's wall-clock and work seconds")
    print("| stage | wall s | work s | work / wall |")
    print("|---|---|---|---|")
    for s in result.stages:
        work = s.details.get("work_seconds")
        if work is not None:
            print(f"| {s.stage} | {s.seconds:.1f} | {work:.1f} | {work / max(s.seconds, 1e-9):.2f} |")
    c = result.certificate
    print(f"stop: {c['kind']}, work {c['work_seconds']:.1f} s, wall guard passed: {c['wall_guard']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("puzzles", nargs="+")
    parser.add_argument("--solve", action="store_true", help="run the solver and compare per stage")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for path in args.puzzles:
        solve(path) if args.solve else block_timings(path)


if __name__ == "__main__":
    main()
