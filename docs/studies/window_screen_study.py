"""How well a quarter of the search's rows ranks the window permutations of the realign stage.

The ``realign`` stage of the ``transformer`` solver scans window permutations (four positions, about
1,700 candidates each) from the end of the network backwards. Every candidate is first evaluated on
a share of the search's rows (``realign__screen``) and only the best ``realign__keep`` on all of
them. This study builds two arrangements from a puzzle's answer (``tail``: the last two layers'
V/O and MLP exchanged and the last four Q/K reversed, plus six norm gains each exchanged with its
neighbour; ``gains``: six gain exchanges alone), evaluates every
permutation of several windows on all rows and on the first row, and prints where the exact best
stands in the screen's order, the rank correlation, and the seconds of each.

    python docs/studies/window_screen_study.py /tmp/r24/s18-100 /tmp/r24/s24-100

Held-out puzzles only (seeds 100 and up); one thread, and time it with nothing else running.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).parent))
from real_gains_study import _exchange, _truth  # noqa: E402
from solvers.transformer.moves import window_permutations  # noqa: E402


def perturbed(truth: torch.Tensor, groups, slots, kind: str, rng: np.random.Generator) -> torch.Tensor:
    """The truth with the tail's components wrong (``tail``) and six norm gains moved one place."""
    D, a = truth.shape[0], truth.clone()
    if kind == "tail":
        for spec in (f"o:{D - 3}:{D - 2}", f"down:{D - 3}:{D - 2}", f"k:{D - 4}:{D - 1}", f"k:{D - 3}:{D - 2}"):
            _exchange(a, groups, slots, spec)
    norms = list(groups.singles[0])
    for _ in range(6):
        c, p = norms[rng.integers(len(norms))], int(rng.integers(D - 1))
        a[[p, p + 1], c] = a[[p + 1, p], c]
    return a


def study(root: Path, rows: int, screen_rows: int) -> None:
    _, _, groups, _, ev, truth = _truth(root, rows=rows)
    D, rng = truth.shape[0], np.random.default_rng(0)
    sub = ev.first_rows(screen_rows)
    for kind in ("tail", "gains"):
        a = perturbed(truth, groups, ev.stack.slots, kind, rng)
        states = ev.states(a)
        base = float(ev.loss(states[-1]))
        for p in sorted({D - 4, D - 8, D // 2, 2}, reverse=True):
            cands = window_permutations(a, groups, p, 4)
            starts = torch.full((len(cands),), p)
            t0 = time.perf_counter()
            full = ev.suffix_losses(cands, starts, states)
            t1 = time.perf_counter()
            screened = sub.suffix_losses(cands, starts, states[:, :screen_rows])
            t2 = time.perf_counter()
            best = int(torch.argmin(full))
            rank = int((torch.argsort(screened) == best).nonzero()[0, 0])
            rho = spearmanr(full.numpy(), screened.numpy())[0]
            print(
                f"| {root.name} | {kind} | {p} | {len(cands)} | {base:.3g} | {float(full[best]):.3g} | "
                f"{int((full < base).sum())} | {rank + 1} | {rho:.2f} | {t1 - t0:.1f} | {t2 - t1:.1f} |",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("puzzles", nargs="+", type=Path)
    parser.add_argument("--rows", type=int, default=4, help="the search's sequences (8 tokens each)")
    parser.add_argument("--screen-rows", type=int, default=1, help="sequences of the screen")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(
        "| puzzle | arrangement | window | candidates | loss | exact best | improving | "
        "exact best's place in the screen | Spearman | all rows s | screen s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for root in args.puzzles:
        study(root, args.rows, args.screen_rows)


if __name__ == "__main__":
    main()
