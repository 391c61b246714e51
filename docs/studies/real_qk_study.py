"""Where attention's Q/K go: seriation by circuit matrices, direction by reads.

A study of the start's Q/K placement (:func:`solvers.transformer.seriation.circuit_similarity`,
:func:`solvers.transformer.linking.runs_along`) on generated puzzles with a kept answer (use
held-out seeds, >= 100; the answer only scores)::

    python docs/studies/real_qk_study.py /tmp/r24/s6-100 /tmp/r24/s12-100 /tmp/r24/s18-100 /tmp/r24/s30-100 /tmp/r24/m6-100

For each puzzle: Kendall |τ| between true depth and the seriation path of the true Q/K components
(given in a shuffled order) by their column-norm profiles and by their circuit matrices; the
read-Gram agreement of the true Q/K with the true linked layers along the true order and along
the reversed order (what :func:`runs_along` compares); and the Q/K components the solver's start
puts at their true layer with the direction chosen by reads (``align``, the default) or by the
data on its own.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from scipy.stats import kendalltau

from reassembly.answer import load_answer
from reassembly.loader import load_puzzle
from solvers.transformer import TransformerSolver
from solvers.transformer.circuits import match_circuits
from solvers.transformer.linking import gram_features
from solvers.transformer.seriation import circuit_similarity, shortest_path, similarity
from solvers.transformer.start import best_start


def measure(root: Path) -> dict[str, object]:
    """The study's numbers for one puzzle directory.

    Parameters
    ----------
    root
        A generated puzzle with its ``answer.json``.
    """
    puzzle, answer = load_puzzle(root), load_answer(root / "answer.json")
    slots = puzzle.layout.block_slots
    layers = [{s: b[slots.index(s)] for s in slots} for b in answer.assembly(puzzle.layout).blocks]
    D = len(layers)
    order = np.random.default_rng(0).permutation(D)
    qk = [{"q": layers[i]["q"], "k": layers[i]["k"]} for i in order]
    comps = match_circuits(puzzle)
    unsure = any(("k", "q") == tuple(sorted(pair)) for u in comps.unsure for pair in u)  # BERT's Q and K
    row: dict[str, object] = {"puzzle": root.name, "layers": D}
    for name, sim in (
        ("profile", similarity(puzzle, qk)),
        ("circuit", circuit_similarity(puzzle, qk, unsure)),
    ):
        path = shortest_path(sim)
        row[f"tau {name}"] = round(abs(kendalltau(np.arange(D), order[path])[0]), 2)
    roles = {s.name: s.role for s in puzzle.family.slots}
    units = [{s: m[s] for s in slots if s not in ("q", "k") and roles[s] != "scale"} for m in layers]
    true_qk = [{"q": m["q"], "k": m["k"]} for m in layers]
    agree = gram_features(puzzle, units, "read") @ gram_features(puzzle, true_qk, "read").T
    row["reads along"] = round(float(torch.trace(agree)), 2)
    row["reads reversed"] = round(float(torch.trace(agree.flip(1))), 2)
    cols = [slots.index("q"), slots.index("k")]
    for align in (True, False):
        _, _, options, ev, _ = TransformerSolver(align=align).prepare(puzzle)
        truth = ev.stack.arrangement(answer.assembly(puzzle.layout))
        arr, _ = best_start(ev, options)
        row[f"start Q/K ({'align' if align else 'data'})"] = int((arr[:, cols] == truth[:, cols]).all(1).sum())
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("puzzles", nargs="+", type=Path, help="generated puzzle directories with answer.json")
    args = parser.parse_args()
    rows = [measure(p) for p in args.puzzles]
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for r in rows:
        print("| " + " | ".join(str(r[k]) for k in keys) + " |")


if __name__ == "__main__":
    main()
