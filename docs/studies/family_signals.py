"""Per-family weight signals of trained nets: how well each grouping score pairs every read slot
with its block's write slot, and what the default recipe's losses are (docs/regimes.md).

    python docs/studies/family_signals.py [--seeds 100 101 102] [--depths 16 48]

Uses the generators' cache (trains what is missing). Scores: ``ddr`` (the paper), ``cosine``
(per-unit alignment), ``profile`` (correlation of per-unit norms) and ``units`` (fast's combination);
each is the share of true blocks the Hungarian assignment recovers when each read slot is matched
to the write pieces on its own (gate and up apart), on the true pieces.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from generators.build import build_puzzle
from generators.config import PuzzleConfig
from reassembly.families import FAMILY_NAMES
from solvers.grouping import cosine_scores, ddr_scores, profile_scores, unit_norms, unit_scores

SCORES = {
    "ddr": ddr_scores,
    "cosine": cosine_scores,
    "profile": lambda r, w: profile_scores(unit_norms(r, 0), unit_norms(w, 1)),
    "units": unit_scores,
}


def accuracy(scores: torch.Tensor) -> float:
    _, cols = linear_sum_assignment(scores.numpy(), maximize=True)
    return float((cols == np.arange(len(cols))).mean())


def row(family: str, depth: int, seed: int) -> dict:
    puzzle, answer, trained = build_puzzle(PuzzleConfig(block=family, depth=depth, seed=seed), progress=False)
    truth = answer.assembly(puzzle.layout)
    slots = puzzle.family.slots
    stacked = {s.name: torch.stack([puzzle.pieces[b[i]].weight for b in truth.blocks]) for i, s in enumerate(slots)}
    write = next(s.name for s in slots if s.role == "write")
    out = {
        "family": family,
        "depth": depth,
        "seed": seed,
        "train": trained.loss_curve[-1]["train_loss"],
        "val": trained.loss_curve[-1]["val_loss"],
    }
    for s in slots:
        if s.role == "read":
            for name, score in SCORES.items():
                out[f"{s.name}:{name}"] = accuracy(score(stacked[s.name], stacked[write]))
        elif s.role == "scale":  # a norm gain against its block's read pieces' column norms
            reads = [r for r in slots if r.role == "read"]
            out[f"{s.name}:profile"] = accuracy(
                sum(profile_scores(unit_norms(stacked[r.name], 1), stacked[s.name]) for r in reads)
            )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[100, 101, 102])
    ap.add_argument("--depths", type=int, nargs="+", default=[16, 48])
    args = ap.parse_args()
    torch.set_num_threads(1)
    import pandas as pd

    df = pd.DataFrame([row(f, d, s) for f in FAMILY_NAMES for d in args.depths for s in args.seeds])
    means = df.drop(columns="seed").groupby(["family", "depth"], sort=False).mean().reset_index()
    cols = list(means.columns)
    print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for r in means.itertuples(index=False):
        print("| " + " | ".join("–" if v != v else (f"{v:.2f}" if isinstance(v, float) else str(v)) for v in r) + " |")


if __name__ == "__main__":
    main()
