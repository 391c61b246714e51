"""The per-family table of docs/families.md from a ``reassembly bench --suite families`` output.

    reassembly bench --suite families --out runs/families
    python docs/studies/families_table.py runs/families

For every family and depth: each solver's exact recoveries over the seeds, and for each miss whether
the solver's MSE is above the true assembly's (``search``: a better answer existed) or not
(``identifiability``: the data cannot tell), with median seconds and evaluations.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from reassembly.harness.results import load_results
from reassembly.harness.summary import normalise


def cell(g: pd.DataFrame) -> str:
    if (g["status"] == "unsupported").all():
        return "n/a (unsupported)"
    exact = int(g["exact"].sum())
    misses = g[~g["exact"]]
    why = ", ".join(f"{n} {kind}" for kind, n in misses["failure"].fillna(misses["status"]).value_counts().items())
    seconds = g["seconds"].median()
    return f"{exact}/{len(g)}" + (f" ({why})" if why else "") + f", {seconds:.1f} s"


def table(df: pd.DataFrame) -> str:
    df = normalise(df)
    df["depth"] = df["depth"].astype("Int64")
    df["family"] = df.get("config.block", df.get("family")).fillna("relu")
    variants = sorted(df["variant"].unique())
    lines = [
        "| family | depth | " + " | ".join(f"`{v}`: exact (misses), median s" for v in variants) + " |",
        "|---|---|" + "---|" * len(variants),
    ]
    for (family, depth), g in df.groupby(["family", "depth"], sort=False):
        lines.append(f"| {family} | {depth} | " + " | ".join(cell(g[g["variant"] == v]) for v in variants) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path, help="a bench output directory")
    print(table(load_results(ap.parse_args().results)))


if __name__ == "__main__":
    main()
