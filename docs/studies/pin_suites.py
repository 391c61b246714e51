"""Pin a suite's generated puzzles by their content hash.

A maintainer's tool: after ``reassembly bench --suite NAME --out DIR`` on the reference machine,
``python docs/studies/pin_suites.py NAME DIR`` writes the hash of every generated puzzle (synthetic or
real-network) the run saw into ``reassembly/harness/suite_pins.json``; later runs of the suite say
where their puzzles differ (``pinned`` column: ``False``), so results on different content are
never compared unawares. ``python docs/studies/pin_suites.py NAME DIR --plan`` generates the suite's
puzzles into ``DIR`` without solving any (what a suite of long solves, such as ``real``, needs).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from reassembly.harness.suites import PINS, get_suite

GENERATED = ("synthetic", "real")


def pins_of(run: Path) -> dict[str, str]:
    """``{puzzle id: content hash}`` of the generated puzzles in the run folder ``run``.

    Parameters
    ----------
    run
        A bench's output folder (its ``results.csv``).
    """
    rows = pd.read_csv(run / "results.csv")
    rows = rows[rows["kind"].isin(GENERATED)].drop_duplicates("puzzle")
    return dict(zip(rows["puzzle"], rows["content"]))


def planned_pins(name: str, out: Path) -> dict[str, str]:
    """``{puzzle id: content hash}`` of suite ``name``'s generated puzzles, generated into ``out``
    (reused where stored) without running any solver.

    Parameters
    ----------
    name
        The suite.
    out
        The bench output folder to store the puzzles in.
    """
    from reassembly.harness.benchmark import Benchmark

    plan = Benchmark(suite=name, out=out).plan()
    return {p.id: p.content for p in plan.puzzles if p.kind in GENERATED}


def main(name: str, run: str, *flags: str) -> None:
    get_suite(name)  # refuses an unknown suite
    pins = planned_pins(name, Path(run)) if "--plan" in flags else pins_of(Path(run))
    table = json.loads(PINS.read_text()) if PINS.is_file() else {}
    table[name] = dict(sorted(pins.items()))
    PINS.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    print(f"pinned {len(table[name])} puzzles of suite {name!r} in {PINS}")


if __name__ == "__main__":
    main(*sys.argv[1:])
