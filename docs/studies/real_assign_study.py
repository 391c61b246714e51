"""What assignment moves do from where a `transformer` search stopped: a study of a bench result.

A study, not a solver: it reads the arrangement a solve returned (a bench's ``results.jsonl``) and
the puzzle's kept answer (only to score), and from that arrangement

1. per group (each kind, the norm gains, whole sublayers): the exact substitution losses, where
   the true piece ranks among them at each wrongly filled place, the cycles of their Hungarian
   assignment, and the same assignment on first-order screened losses
   (:class:`~solvers.transformer.screen.Screen`);
2. one pass of :meth:`~solvers.transformer.search.LocalSearch.assign`, then the solver's search
   from the returned arrangement (``--time-limit``)::

    reassembly bench --seeds 0 -s 'transformer[search__assignments=false]' --puzzle /tmp/r24/s12-104 --out /tmp/h12
    python docs/studies/real_assign_study.py /tmp/h12/results.jsonl /tmp/r24/s12-104
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from reassembly.answer import Assembly, load_answer
from reassembly.loader import load_puzzle
from solvers.transformer import TransformerSolver
from solvers.transformer.moves import Groups, cells_of, preferred_cycles, substitutions
from solvers.transformer.screen import Screen
from solvers.transformer.search import SearchLog


def returned(results: Path, root: Path, stack) -> torch.Tensor:
    """The arrangement a bench run of puzzle ``root`` returned.

    Parameters
    ----------
    results
        The bench's ``results.jsonl``.
    root
        The puzzle directory (its name starts the bench's puzzle name).
    stack
        The solver's piece stack.
    """
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    row = next(r for r in rows if r["puzzle"].startswith(root.name) and r.get("answer"))
    ids = [int(x) for x in row["answer"].split(",")]
    S = len(stack.slots)
    return stack.arrangement(Assembly(tuple(tuple(ids[i : i + S]) for i in range(0, len(ids), S)), ()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path, help="a bench's results.jsonl")
    ap.add_argument("puzzle", type=Path, help="the puzzle directory (with answer.json)")
    ap.add_argument("--time-limit", type=float, default=300.0, help="seconds of search after the pass")
    ap.add_argument("--sketch", type=int, default=16, help="rows of the screen's sketch")
    args = ap.parse_args()
    torch.set_num_threads(1)
    puzzle, answer = load_puzzle(args.puzzle), load_answer(args.puzzle / "answer.json")
    solver = TransformerSolver()
    _, groups, _, ev, floor = solver.prepare(puzzle)
    truth = ev.stack.arrangement(answer.assembly(puzzle.layout))
    arr = returned(args.results, args.puzzle, ev.stack)
    D = arr.shape[0]

    def line(a: torch.Tensor, what: str) -> None:
        loss = float(ev.loss(ev.states(a)[-1]))
        print(f"{what}: loss {loss:.4g}, layers whole {int((a == truth).all(1).sum())}/{D}", flush=True)

    line(arr, "returned")
    states = ev.states(arr)
    loss = float(ev.loss(states[-1]))
    screen = Screen(ev, arr, states, args.sketch, torch.Generator().manual_seed(100))
    print("| group | places | wrong | true piece cheapest at | exact cycles | screened: Spearman | screened cycles |")
    print("|---|---|---|---|---|---|---|")
    named = cells_of(groups, D) + [("sublayer", c) for _, c in cells_of(Groups(groups.sublayers, (), ()), D)]
    for label, cells in named:
        cands, pairs = substitutions(arr, cells, D)
        exact = ev.suffix_losses(cands, torch.tensor([cells[i][0][0] for i, _ in pairs]), states)
        est = screen.losses(cands)
        wrong = cheapest = 0
        for i, cell in enumerate(cells):
            want = [int(truth[p, c]) for p, c in cell]
            if [int(arr[p, c]) for p, c in cell] == want:
                continue
            wrong += 1
            row = [(float(v), j) for (t, j), v in zip(pairs, exact) if t == i]
            best = min(row)[1] if row else None
            cheapest += best is not None and [int(arr[q, t]) for q, t in cells[best]] == want and min(row)[0] < loss
        slots = "+".join(ev.stack.slots[c] for _, c in cells[0])
        print(
            f"| {label} {slots} | {len(cells)} | {wrong} | {cheapest} | {[sorted(c) for c in preferred_cycles(len(cells), pairs, exact.tolist(), loss)]} "
            f"| {spearmanr(exact, est)[0]:.2f} | {[sorted(c) for c in preferred_cycles(len(cells), pairs, est.tolist(), loss)]} |",
            flush=True,
        )
    t0 = time.perf_counter()
    once, _, taken = solver.search.assign(ev, arr, groups, floor, ev.clock() + 600, SearchLog())
    line(once, f"one pass of assignment moves ({taken} taken, {time.perf_counter() - t0:.0f} s)")
    t0 = time.perf_counter()
    end, _, log = solver.search.run(ev, arr, groups, floor, ev.clock() + args.time_limit, np.random.default_rng(100))
    line(
        end,
        f"the search from the returned arrangement ({log.stop}, {time.perf_counter() - t0:.0f} s, moves {log.moves})",
    )


if __name__ == "__main__":
    main()
