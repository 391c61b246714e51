"""How well first-order screens rank the `transformer` search's moves, against exact losses.

A study, not a solver: on held-out real-network puzzles it builds arrangements at several
distances from the kept answer (the answer is only used to build them), evaluates every move the
search's sweeps would try (:func:`~solvers.transformer.moves.moves_at` at every position)
exactly and with a :class:`~solvers.transformer.screen.Screen`, and compares::

    python docs/studies/real_screens_study.py /tmp/r24/s12-100 /tmp/r24/s30-100

Arrangements:

- ``near``: the truth with two positions' components of one kind exchanged and one pair of norm
  gains exchanged (the end of a search);
- ``half``: the truth with half the positions' Q/K components and half the norm gains shuffled;
- ``start``: the solver's own start (circuits, link, seriation).

Per arrangement, over all moves: Spearman's rank correlation of screen and exact losses; per
position (a sweep takes the best move of each position), how often the exact best move is the
screen's best, or among its best 3; and of the moves the screen calls improving, the share the
exact loss does not (false positives), and of those that improve exactly, the share the screen
misses (false negatives).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from reassembly.answer import load_answer
from reassembly.loader import load_puzzle
from solvers.transformer import TransformerSolver
from solvers.transformer.moves import Groups, moves_at
from solvers.transformer.screen import Screen
from solvers.transformer.start import best_start


def near(truth: torch.Tensor, groups: Groups, rng: np.random.Generator) -> torch.Tensor:
    """The truth with one kind exchanged between two positions and two norm gains exchanged.

    Parameters
    ----------
    truth
        The true arrangement ``(D, S)``.
    groups
        Its column groups.
    rng
        Draws the positions.
    """
    arr, D = truth.clone(), truth.shape[0]
    cols = list(groups.kinds[int(rng.integers(len(groups.kinds)))])
    p, q = rng.choice(D, 2, replace=False)
    arr[p, cols], arr[q, cols] = truth[q, cols], truth[p, cols]
    pool = list(groups.singles[0])
    p, q = rng.choice(D, 2, replace=False)
    arr[p, pool[0]], arr[q, pool[-1]] = truth[q, pool[-1]], truth[p, pool[0]]
    return arr


def half(truth: torch.Tensor, groups: Groups, rng: np.random.Generator) -> torch.Tensor:
    """The truth with half the positions' components of the kind that writes nothing (the last
    kind) and half the norm gains shuffled among themselves.

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
    cols = [c for k in groups.kinds if not set(k) & set(groups.chain) for c in k] or list(groups.kinds[-1])
    some = torch.from_numpy(rng.choice(D, D // 2, replace=False))
    arr[some[:, None], cols] = truth[some[torch.from_numpy(rng.permutation(len(some)))][:, None], cols]
    pool = list(groups.singles[0])
    flat = arr[:, pool].flatten().clone()
    some = torch.from_numpy(rng.choice(len(flat), len(flat) // 2, replace=False))
    flat[some] = flat[some[torch.from_numpy(rng.permutation(len(some)))]]
    arr[:, pool] = flat.reshape(D, len(pool))
    return arr


def compare(ev, arr: torch.Tensor, groups: Groups, window: int, sketch: int, seed: int) -> dict:
    """Every move of every position, exactly and screened; the agreement.

    Parameters
    ----------
    ev
        The solver's evaluator.
    arr
        The arrangement the moves start from.
    groups
        Its column groups.
    window
        The search's window.
    sketch
        Rows of the screen's sketch.
    seed
        Draws the sketch.
    """
    states = ev.states(arr)
    loss = float(ev.loss(states[-1]))
    t0 = time.perf_counter()
    screen = Screen(ev, arr, states, sketch, torch.Generator().manual_seed(seed))
    t_setup = time.perf_counter() - t0
    exact, est, position = [], [], []
    t_exact = t_screen = 0.0
    for p in range(arr.shape[0]):
        cands = torch.cat([c for _, c in moves_at(arr, groups, p, window, blocks=False)])
        t0 = time.perf_counter()
        exact.append(ev.suffix_losses(cands, torch.full((len(cands),), p), states))
        t_exact += time.perf_counter() - t0
        t0 = time.perf_counter()
        est.append(screen.losses(cands))
        t_screen += time.perf_counter() - t0
        position += [p] * len(cands)
    exact_all, est_all = torch.cat(exact).double(), torch.cat(est).double()
    top1 = top3 = improvable = 0
    for e, s in zip(exact, est):
        if float(e.min()) < loss:
            improvable += 1
            best = int(torch.argmin(e))
            order = torch.argsort(s).tolist()
            top1 += best == order[0]
            top3 += best in order[:3]
    improving, called = exact_all < loss, est_all < loss
    return {
        "loss": loss,
        "moves": len(exact_all),
        "spearman": float(spearmanr(exact_all, est_all)[0]),
        "improvable": improvable,
        "top1": top1 / max(improvable, 1),
        "top3": top3 / max(improvable, 1),
        "false_pos": float((called & ~improving).sum() / max(int(called.sum()), 1)),
        "false_neg": float((improving & ~called).sum() / max(int(improving.sum()), 1)),
        "seconds_exact": t_exact,
        "seconds_screen": t_screen + t_setup,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("puzzles", type=Path, nargs="+", help="held-out real-network puzzles (with answer.json)")
    ap.add_argument("--sketch", type=int, default=16, help="rows of the screen's sketch")
    ap.add_argument("--seed", type=int, default=100, help="draws the arrangements and the sketch (>= 100)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(
        "| puzzle | arrangement | loss | moves | Spearman | positions that improve | exact best = screen's best "
        "| in screen's best 3 | false positives | false negatives | exact s | screen s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for root in args.puzzles:
        puzzle, answer = load_puzzle(root), load_answer(root / "answer.json")
        solver = TransformerSolver()
        _, groups, options, ev, _ = solver.prepare(puzzle)
        truth = ev.stack.arrangement(answer.assembly(puzzle.layout))
        rng = np.random.default_rng(args.seed)
        arrangements = {
            "near": near(truth, groups, rng),
            "half": half(truth, groups, rng),
            "start": best_start(ev, options)[0],
        }
        for name, arr in arrangements.items():
            r = compare(ev, arr, groups, solver.search.window, args.sketch, args.seed)
            print(
                f"| {root.name} | {name} | {r['loss']:.3g} | {r['moves']} | {r['spearman']:.2f} | {r['improvable']} "
                f"| {r['top1']:.0%} | {r['top3']:.0%} | {r['false_pos']:.0%} | {r['false_neg']:.0%} "
                f"| {r['seconds_exact']:.1f} | {r['seconds_screen']:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
