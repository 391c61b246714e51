"""The results table of docs/real-networks.md from a ``reassembly bench`` output over real-network
puzzles (see the doc's "Reproduce" section for the bench line)::

    python docs/studies/real_networks_table.py /tmp/real/bench            # prints the table
    python docs/studies/real_networks_table.py /tmp/real/bench --write    # also replaces it in the doc
    python docs/studies/real_networks_table.py /tmp/real/ladder --ladder --write   # the depth ladder's table

One row per puzzle and solver: the run's status (``unsupported`` where the solver does not apply),
whether every piece is in its place (or the assembly computes the same function), grouping accuracy,
whether the layer order is exact, Kendall τ of the order, the referee's output MSE (float64, all
sequences), seconds and evaluations.
"""

from __future__ import annotations

import argparse
import math
import re
from pathlib import Path

import pandas as pd

from common import DOCS  # beside this script
from reassembly.harness.results import load_results
from reassembly.harness.summary import normalise

DOC = DOCS / "real-networks.md"


def _num(value: object, spec: str) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def row(r: pd.Series) -> str:
    ok = r["status"] == "ok"
    order = r["order_exact"] if ok and not pd.isna(r["order_exact"]) else None
    cells = [
        r["puzzle"],
        f"`{r['variant']}`",
        r["status"],
        ("yes" if r["exact"] else "no") if ok else "–",
        _num(r["grouping_accuracy"], ".1%") if ok else "–",
        ("–" if order is None else ("yes" if order in (True, 1, "True") else "no")),
        _num(r["kendall_tau"], ".3f") if ok else "–",
        _num(r["mse"], ".3g") if ok else "–",
        _num(r["seconds"], ".1f"),
        _num(r["evaluations"], ".0f") if ok else "–",
    ]
    return "| " + " | ".join(str(c) for c in cells) + " |"


def table(df: pd.DataFrame) -> str:
    df = normalise(df).sort_values(["puzzle", "variant"], kind="stable")
    lines = [
        "| puzzle | solver | status | exact | grouping accuracy | order exact | Kendall τ | output MSE | seconds | evaluations |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    return "\n".join(lines + [row(r) for _, r in df.iterrows()])


def ladder_row(r: pd.Series) -> str:
    """One run of the depth ladder: network, layers, seed, solver, then the scores (as :func:`row`)
    and why the solver stopped (its certificate)."""
    ok = r["status"] == "ok"
    cells = [
        r["puzzle"].split("-")[0],
        _num(r["depth"], ".0f"),
        _num(r["seed"], ".0f") if "seed" in r else "–",
        f"`{r['variant']}`",
        ("yes" if r["exact"] else "no") if ok else r["status"],
        _num(r["grouping_accuracy"], ".1%") if ok else "–",
        _num(r["kendall_tau"], ".3f") if ok else "–",
        _num(r["mse"], ".3g") if ok else "–",
        _num(r["seconds"], ".1f"),
        _num(r["evaluations"], ".0f") if ok else "–",
        r.get("certificate") if isinstance(r.get("certificate"), str) else "–",
    ]
    return "| " + " | ".join(str(c) for c in cells) + " |"


def ladder_table(df: pd.DataFrame) -> str:
    """The depth ladder: one row per run, by network, layers, seed and solver."""
    df = normalise(df)
    df = df.assign(
        network=df["puzzle"].str.split("-").str[0],
        seed=df["puzzle"].str.extract(r"-s(\d+)-", expand=False).astype(float),
    )
    df = df.sort_values(["network", "depth", "seed", "variant"], kind="stable")
    lines = [
        "| network | layers | seed | solver | exact | grouping accuracy | Kendall τ | output MSE | seconds | evaluations | stop |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    return "\n".join(lines + [ladder_row(r) for _, r in df.iterrows()])


def write_block(name: str, text: str, doc: Path = DOC) -> None:
    """Replace the text between ``<!-- begin NAME -->`` and ``<!-- end NAME -->`` in ``doc``."""
    pattern = re.compile(rf"(<!-- begin {name} -->\n).*?(\n<!-- end {name} -->)", re.S)
    source = doc.read_text()
    if not pattern.search(source):
        raise SystemExit(f"{doc}: no '<!-- begin {name} -->' ... '<!-- end {name} -->' block")
    doc.write_text(pattern.sub(lambda m: m.group(1) + text + m.group(2), source))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path, help="a bench output directory")
    ap.add_argument("--ladder", action="store_true", help="the depth ladder's table (puzzles named NETWORK-lK-sSEED)")
    ap.add_argument("--write", action="store_true", help=f"replace the results (or ladder) block of {DOC.name}")
    args = ap.parse_args()
    text = (ladder_table if args.ladder else table)(load_results(args.results))
    print(text)
    if args.write:
        write_block("ladder" if args.ladder else "results", text)


if __name__ == "__main__":
    main()
