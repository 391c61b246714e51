"""Pin a suite's generated puzzles by the content hash a run of it recorded.

A maintainer's tool: after ``reassembly bench --suite NAME --out DIR`` on the reference machine,
``python docs/studies/pin_suites.py NAME DIR`` writes the hash of every generated puzzle the run saw into
``reassembly/harness/suite_pins.json``; later runs of the suite say where their puzzles differ
(``pinned`` column: ``False``), so results on different content are never compared unawares.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from reassembly.harness.suites import PINS, get_suite


def pins_of(run: Path) -> dict[str, str]:
    """``{puzzle id: content hash}`` of the generated puzzles in the run folder ``run``."""
    rows = pd.read_csv(run / "results.csv")
    rows = rows[rows["kind"] == "synthetic"].drop_duplicates("puzzle")
    return dict(zip(rows["puzzle"], rows["content"]))


def main(name: str, run: str) -> None:
    get_suite(name)  # refuses an unknown suite
    table = json.loads(PINS.read_text()) if PINS.is_file() else {}
    table[name] = dict(sorted(pins_of(Path(run)).items()))
    PINS.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    print(f"pinned {len(table[name])} puzzles of suite {name!r} in {PINS}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
