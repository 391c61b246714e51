"""The regime map of docs/regimes.md: training recipe x depth, every solve through the referee.

    python docs/studies/regimes_map.py run --out runs/regimes                 # seeds 0-2, depths 16 32 48
    python docs/studies/regimes_map.py run --out runs/regimes --recipes default-init --depths 16 --seeds 1
    python docs/studies/regimes_map.py table runs/regimes                     # the markdown table

``run`` calls ``reassembly bench`` once per recipe (so the referee scores every row; nothing is
solved in this process) with ``fast``, ``paper`` and ``cosine``. ``table`` adds, per recipe and
depth, the grouping accuracy of the weight signal alone (``units`` scores + Hungarian, the start
``fast`` searches from), read from the bench's puzzles and the answers it kept apart.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

#: Recipe name -> generator options (everything else at the generator's defaults: Adam, lr 1e-3,
#: 10 epochs, zero-initialised write pieces, width 48, hidden 96).
RECIPES: dict[str, list[str]] = {
    "zero-residual (default)": [],
    "default-init": ["--init", "default"],
    "lr1e-4": ["--lr", "1e-4"],
    "lr3e-3": ["--lr", "3e-3"],
    "sgd": ["--optimizer", "sgd"],
    "adamw-wd0.1": ["--optimizer", "adamw", "--weight-decay", "0.1"],
    "50-epochs": ["--epochs", "50"],
    "narrow (16/32)": ["--width", "16", "--hidden", "32"],
    "wide (48/384)": ["--hidden", "384"],
}
SOLVERS = ("fast", "paper", "cosine")


def slug(recipe: str) -> str:
    return "".join(c if c.isalnum() or c in "-." else "-" for c in recipe.split(" ")[0])


def run(args: argparse.Namespace) -> None:
    for recipe in args.recipes or list(RECIPES):
        out = args.out / slug(recipe)
        cmd = [
            "reassembly",
            "bench",
            "--out",
            str(out),
            "--seeds",
            str(args.seeds),
            "--first-seed",
            str(args.first_seed),
            "--timeout",
            str(args.timeout),
            "-j",
            "1",
            *(f"--depth={d}" for d in args.depths),
            *(a for s in args.solvers for a in ("-s", s)),
            *RECIPES[recipe],
            *(["--retry-failed"] if args.retry_failed else []),
        ]
        print("$", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=False)


def weight_grouping(bench: Path) -> pd.DataFrame:
    """Per puzzle of a bench folder: the share of blocks the weight scores alone group right."""
    import torch

    from reassembly.loader import load_puzzle
    from solvers.grouping import group_pieces

    torch.set_num_threads(1)
    rows = []
    for answer in sorted((bench / "answers").glob("*-seed*.json")):
        if answer.name.endswith(".generation.json") or not (bench / "puzzles" / answer.stem).is_dir():
            continue
        puzzle = load_puzzle(bench / "puzzles" / answer.stem)
        ids, S = json.loads(answer.read_text())["ids"], len(puzzle.layout.block_slots)
        truth = {tuple(ids[S * k : S * (k + 1)]) for k in range(puzzle.layout.depth)}
        found = set(group_pieces(puzzle, "units").blocks)
        rows.append({"depth": puzzle.layout.depth, "weight_grouping": len(truth & found) / len(truth)})
    return pd.DataFrame(rows)


def cell(g: pd.DataFrame) -> str:
    if g.empty:
        return "–"
    exact = int(g["exact"].fillna(False).astype(bool).sum())
    misses = g[~g["exact"].fillna(False).astype(bool)]
    why = ", ".join(f"{n} {k}" for k, n in misses["failure"].fillna(misses["status"]).value_counts().items())
    return f"{exact}/{len(g)}" + (f" ({why})" if why else "") + f", {g['seconds'].median():.1f} s"


def table(args: argparse.Namespace) -> None:
    from reassembly.harness.results import load_results

    solvers = list(args.solvers)
    print(
        "| recipe | depth | weight grouping | " + " | ".join(f"`{s}`: exact (misses), median s" for s in solvers) + " |"
    )
    print("|---|---|---|" + "---|" * len(solvers))
    for recipe in RECIPES:
        bench = args.results / slug(recipe)
        if not (bench / "results.csv").exists():
            continue
        df = load_results(bench)
        df = df[df["seed"].isin(range(args.first_seed, args.first_seed + args.seeds))] if "seed" in df else df
        groups = weight_grouping(bench)
        for depth, g in df.groupby("depth"):
            share = groups.loc[groups["depth"] == depth, "weight_grouping"]
            cells = [cell(g[g["solver"] == s]) for s in solvers]
            print(f"| {recipe} | {int(depth)} | {share.mean():.0%} | " + " | ".join(cells) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    for name in ("run", "table"):
        p = sub.add_parser(name)
        if name == "run":
            p.add_argument("--out", type=Path, required=True)
            p.add_argument("--recipes", nargs="*", choices=list(RECIPES))
            p.add_argument("--depths", type=int, nargs="+", default=[16, 32, 48])
            p.add_argument("--timeout", type=float, default=600.0)
            p.add_argument("--retry-failed", action="store_true", help="redo runs stored as error or timeout")
        else:
            p.add_argument("results", type=Path)
        p.add_argument("--seeds", type=int, default=3)
        p.add_argument("--first-seed", type=int, default=0)
        p.add_argument("--solvers", nargs="+", default=list(SOLVERS))
    args = ap.parse_args()
    {"run": run, "table": table}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
