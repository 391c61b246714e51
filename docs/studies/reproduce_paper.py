"""Regenerate the numbers in docs/paper-reproduction.md on the real Jane Street puzzle.

    python docs/studies/reproduce_paper.py [--out docs/studies/data/paper-reproduction.json] [--all-rows]
    python docs/studies/reproduce_paper.py --render docs/studies/data/paper-reproduction.json   # tables only, no solving

Uses only the project's stage functions (pairing, seeds, ranking, repair); runs on one CPU
thread. Two readings are compared: this code's defaults (a random 1,000-row subsample drives
seed, Bradley–Terry deltas and repair; T = median |delta|) and a reading that reproduces the
paper's figures (the first 2,000 rows drive all three; T = 1e-3).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from common import DATA  # beside this script
from reassembly.answer import Assembly
from reassembly.janestreet import find_janestreet
from reassembly.kernel import Evaluator, PieceStack
from reassembly.kernel.screens import branches
from reassembly.loader import load_puzzle
from reassembly.puzzle import Puzzle
from solvers.grouping import SCORES, group_pieces
from solvers.ranking import bradley_terry, bradley_terry_order, bubble_repair, soft_wins, swap_deltas

DTYPES = {"float32": torch.float32, "float64": torch.float64}
PAPER = {
    "ddr_gap": 1.18,
    "seed_delta_norm": 0.036794,
    "seed_wout_norm": 0.075851,
    "bradley_terry": 0.002989,
    "repair": {
        "bt": [21, 7, 5, 3, 1],
        "delta-norm": [23, 20, 21, 15, 11, 9, 12, 5, 2, 1, 1, 1, 1],
        "wout-norm": [30, 16, 12, 9, 4, 1],
    },
}


def rows_of(puzzle: Puzzle, rows: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``"random1000"`` (the code's default draw, seed 0), ``"first2000"``, ``"all"``."""
    if rows == "all":
        return puzzle.X, puzzle.pred
    n = int(rows.removeprefix("random").removeprefix("first"))
    if rows.startswith("first"):
        return puzzle.X[:n], puzzle.pred[:n]
    idx = torch.randperm(puzzle.n_rows, generator=torch.Generator().manual_seed(0))[:n]
    return puzzle.X[idx], puzzle.pred[idx]


class Blocks:
    """The paired blocks (the arrangement ``arr``, in DDR order) and evaluators over its orders."""

    def __init__(self, puzzle: Puzzle, blocks: tuple, head: tuple[int, ...]) -> None:
        self.puzzle, self.head = puzzle, head
        self.stacks = {d: PieceStack(puzzle, DTYPES[d]) for d in DTYPES}
        self.arr = self.stacks["float64"].arrangement(Assembly(blocks, head))

    def evaluator(self, rows: str, dtype: str) -> Evaluator:
        X, y = rows_of(self.puzzle, rows)
        return Evaluator(self.stacks[dtype], self.head, X, y)


class Orders:
    """An evaluator that takes block orders (positions into the paired blocks) instead of arrangements."""

    def __init__(self, ev: Evaluator, arr: torch.Tensor) -> None:
        self.ev, self.arr = ev, arr

    def mse(self, order: list[int]) -> float:
        return self.ev.mse(self.arr[torch.tensor(order)])


def delta_norm_keys(ev: Evaluator, arr: torch.Tensor, X: torch.Tensor) -> dict[str, torch.Tensor]:
    """Candidate readings of the paper's Eq. 5 (residual branch on the raw input, per block)."""
    X = X.to(ev.X.dtype)
    branch = branches(ev, arr, X.unsqueeze(0).expand(len(arr), -1, -1))  # (D, n, d)
    return {
        "mean L2 norm": branch.norm(dim=2).mean(dim=1),
        "mean |.|": branch.abs().mean(dim=(1, 2)),
        "RMS": branch.pow(2).mean(dim=(1, 2)).sqrt(),
    }


def ascending(key: torch.Tensor) -> list[int]:
    return [int(i) for i in torch.argsort(key, stable=True)]


def repair_rounds(work: Evaluator, full: Evaluator, arr: torch.Tensor) -> dict:
    """Bubble repair one sweep at a time, logging swaps and full-data MSE after each sweep."""
    history = [{"round": 0, "swaps": 0, "mse": full.mse(arr)}]
    t0 = time.perf_counter()
    while True:
        arr, log = bubble_repair(work, arr, max_rounds=1)
        swaps = log[-1]["swaps"]
        if swaps == 0:
            break
        history.append({"round": len(history), "swaps": swaps, "mse": full.mse(arr)})
    return {
        "rounds": len(history) - 1,
        "swaps": sum(h["swaps"] for h in history),
        "history": history,
        "final_mse": full.mse(arr),
        "seconds": time.perf_counter() - t0,
    }


def render(out: dict) -> str:
    """The Markdown tables of docs/paper-reproduction.md from a results file."""
    lines = ["| pairing | lowest correct | highest incorrect | gap |", "|---|---|---|---|"]
    for m, p in out["pairing"].items():
        lines.append(f"| {m} | {p['assigned_min']:.4f} | {p['unassigned_max']:.4f} | {p['gap']:.4f} |")
    lines += ["", "| seed | definition | rows | dtype | MSE |", "|---|---|---|---|---|"]
    lines += [
        f"| {r['seed']} | {r['definition']} | {r['rows']} | {r['dtype']} | {r['mse']:.6f} |" for r in out["seeds"]
    ]
    lines += [
        "",
        "| BT seed rows | delta rows | dtype | T | T value | MM iterations | MSE |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['seed_rows']} | {r['delta_rows']} | {r['dtype']} | {r['temperature']} | {r['T_value']:.3g} | "
        f"{r['mm_iterations']} | {r['mse']:.6f} |"
        for r in out["bradley_terry"]
    ]
    lines += ["", "| start | repair rows | rounds | swaps | swaps per round | seconds |", "|---|---|---|---|---|---|"]
    lines += [
        f"| {r['start']} | {r['repair_rows']} | {r['rounds']} | {r['swaps']} | "
        f"{', '.join(str(h['swaps']) for h in r['history'][1:])} | {r['seconds']:.0f} |"
        for r in out["repair"]
    ]
    if "seed_random_draws" in out:
        d = out["seed_random_draws"]
        lines += [
            "",
            f"delta-norm seed over {d['draws']} random 1,000-row draws: min {d['min']:.4f}, "
            f"median {d['median']:.4f}, max {d['max']:.4f}",
        ]
    if "bt_paper_reading" in out:
        b = out["bt_paper_reading"]
        lines += [
            "",
            "BT (first 2,000 rows, T=1e-3) MSE by MM iteration cap: "
            + ", ".join(f"{k}: {v:.7f}" for k, v in b["mse_by_mm_cap"].items()),
            "",
            "| T | MSE after BT | round-1 swaps | MSE after round 1 |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {g['T']:g} | {g['mse']:.6f} | {g['round1_swaps']} | {g['round1_mse']:.6f} |"
            for g in b["temperature_grid"]
        ]
    lines += ["", "MSE (all 10,000 rows) after each round, first-2000-row repair:", ""]
    for r in out["repair"]:
        if r["repair_rows"] == "first2000":
            lines.append(f"- {r['start']}: " + ", ".join(f"{h['mse']:.6f}" for h in r["history"]))
    return "\n".join(lines)


def bt_probe(blocks: Blocks, full: Evaluator, delta: torch.Tensor, seed: torch.Tensor) -> dict:
    """Around T = 1e-3 on the first 2,000 rows: does the MM cap matter, and does any T give the
    paper's Table 1 round 1 (21 swaps, MSE 0.001025)? ``seed``: the seed's arrangement."""
    work = blocks.evaluator("first2000", "float32")
    iters = {}
    for cap in (280, 1000, 10_000):
        strengths, _ = bradley_terry(soft_wins(delta, 1e-3), max_iter=cap)
        iters[cap] = full.mse(seed[torch.argsort(-strengths, stable=True)])
    grid = []
    for T in (1e-4, 2e-4, 3e-4, 5e-4, 7e-4, 1e-3, 1.5e-3, 2e-3, 3e-3, 5e-3):
        order, _ = bradley_terry_order(delta, T)
        after, log = bubble_repair(work, seed[order], max_rounds=1)
        grid.append(
            {"T": T, "mse": full.mse(seed[order]), "round1_swaps": log[1]["swaps"], "round1_mse": full.mse(after)}
        )
    return {"mse_by_mm_cap": iters, "temperature_grid": grid}


def _scores_extremes(puzzle: Puzzle, grouping, method: str) -> tuple[float, float]:
    """Lowest assigned and highest unassigned pairing score of a grouping under ``method``."""
    pools = puzzle.layout.pools
    w_in = torch.stack([puzzle.pieces[i].weight for i in pools["inp"]])
    w_out = torch.stack([puzzle.pieces[i].weight for i in pools["out"]])
    scores = SCORES[method](w_in, w_out)
    row, col = {p: r for r, p in enumerate(pools["inp"])}, {p: c for c, p in enumerate(pools["out"])}
    mask = torch.zeros_like(scores, dtype=torch.bool)
    for i, o in grouping.blocks:
        mask[row[i], col[o]] = True
    return float(scores[mask].min()), float(scores[~mask].max())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DATA / "paper-reproduction.json")
    ap.add_argument("--all-rows", action="store_true", help="also repair on all 10,000 rows (slow)")
    ap.add_argument("--render", type=Path, help="print the tables of an existing results file and stop")
    args = ap.parse_args()
    if args.render:
        print(render(json.loads(args.render.read_text())))
        return
    torch.set_num_threads(1)
    directory = find_janestreet()
    if directory is None:
        raise SystemExit("Jane Street puzzle not found (../shared/janestreet or $REASSEMBLY_JANESTREET)")
    puzzle = load_puzzle(directory)
    out: dict = {"paper": PAPER}

    grouping = {m: group_pieces(puzzle, m) for m in ("ddr", "cosine")}
    out["pairing"] = {
        m: {
            "assigned_min": _scores_extremes(puzzle, g, m)[0],
            "unassigned_max": _scores_extremes(puzzle, g, m)[1],
            "gap": g.gap,
        }
        for m, g in grouping.items()
    }
    assert grouping["ddr"].blocks == grouping["cosine"].blocks
    blocks = Blocks(puzzle, grouping["ddr"].blocks, puzzle.layout.pools["last"])
    arr = blocks.arr
    full64 = blocks.evaluator("all", "float64")
    full = Orders(full64, arr)

    seeds: dict[str, list[int]] = {}
    out["seeds"] = []
    for rows in ("random1000", "first1000", "first2000", "all"):
        for dtype in ("float32", "float64"):
            X, _ = rows_of(puzzle, rows)
            for name, key in delta_norm_keys(blocks.evaluator(rows, dtype), arr, X).items():
                order = ascending(key)
                out["seeds"].append(
                    {"seed": "delta-norm", "definition": name, "rows": rows, "dtype": dtype, "mse": full.mse(order)}
                )
                if name == "mean L2 norm" and dtype == "float32":
                    seeds[f"delta-norm/{rows}"] = order
    draws = []
    for draw in range(200):  # how much the seed depends on which 1,000 rows are drawn
        idx = torch.randperm(puzzle.n_rows, generator=torch.Generator().manual_seed(draw))[:1000]
        draws.append(full.mse(ascending(delta_norm_keys(full64, arr, puzzle.X[idx])["mean L2 norm"])))
    draws.sort()
    out["seed_random_draws"] = {
        "draws": len(draws),
        "min": draws[0],
        "median": (draws[99] + draws[100]) / 2,
        "max": draws[-1],
    }
    w_out = blocks.stacks["float64"].tensors["out"].weight[arr[:, 1]]
    seeds["wout-norm"] = ascending(w_out.flatten(1).norm(dim=1))
    out["seeds"].append(
        {
            "seed": "wout-norm",
            "definition": "Frobenius",
            "rows": "-",
            "dtype": "float64",
            "mse": full.mse(seeds["wout-norm"]),
        }
    )
    print("seeds done", flush=True)

    # Bradley–Terry: (seed, rows for the swap deltas, dtype) x temperature.
    out["bradley_terry"] = []
    bt_orders: dict[str, list[int]] = {}
    for seed_rows, delta_rows, dtype in (
        ("random1000", "random1000", "float32"),
        ("first2000", "random1000", "float32"),
        ("first2000", "first2000", "float32"),
        ("first2000", "first2000", "float64"),
    ):
        seed = seeds[f"delta-norm/{seed_rows}"]
        seed_arr = arr[torch.tensor(seed)]
        t0 = time.perf_counter()
        delta = swap_deltas(blocks.evaluator(delta_rows, dtype), seed_arr)
        seconds = time.perf_counter() - t0
        for T in (None, 1e-2, 1e-3, 1e-4):
            positions, fit = bradley_terry_order(delta, T)
            order = [seed[int(p)] for p in positions]
            label = f"seed {seed_rows}, deltas {delta_rows} {dtype}, T={'median' if T is None else T}"
            bt_orders[label] = order
            out["bradley_terry"].append(
                {
                    "seed_rows": seed_rows,
                    "delta_rows": delta_rows,
                    "dtype": dtype,
                    "temperature": "median |delta|" if T is None else T,
                    "T_value": fit.temperature,
                    "mm_iterations": fit.iterations,
                    "mse": full.mse(order),
                    "delta_seconds": seconds,
                }
            )
        if (seed_rows, delta_rows, dtype) == ("first2000", "first2000", "float32"):
            out["bt_paper_reading"] = bt_probe(blocks, full64, delta, seed_arr)
        print("bt", seed_rows, delta_rows, dtype, flush=True)

    starts = {
        "delta-norm (code: random 1000)": seeds["delta-norm/random1000"],
        "delta-norm (first 2000)": seeds["delta-norm/first2000"],
        "wout-norm": seeds["wout-norm"],
        "BT (code: random 1000, T=median)": bt_orders["seed random1000, deltas random1000 float32, T=median"],
        "BT (first 2000, T=1e-3)": bt_orders["seed first2000, deltas first2000 float32, T=0.001"],
    }
    out["repair"] = []
    for rows in ("random1000", "first2000") + (("all",) if args.all_rows else ()):
        work = blocks.evaluator(rows, "float32")
        for start, order in starts.items():
            run = repair_rounds(work, full64, arr[torch.tensor(order)])
            out["repair"].append({"start": start, "repair_rows": rows, **run})
            print("repair", start, rows, run["rounds"], run["swaps"], flush=True)

    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(render(out))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
