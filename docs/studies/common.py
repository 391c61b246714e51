"""What the studies share: where they write (their rows beside them in ``docs/studies/data/``, the
images and pages the documentation shows in ``docs/``) and how they solve: every solve is a run
of :class:`reassembly.Benchmark`, so each row carries the referee's scores, never a study's own."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

STUDIES = Path(__file__).resolve().parent
DATA = STUDIES / "data"
DOCS = STUDIES.parent
#: The columns of a bench row every study row keeps (besides its task's metrics).
RUN_FIELDS = ("key", "puzzle", "variant", "status", "failure", "exact", "seconds", "wall_seconds")


def bench_rows(out: Path, metrics: Iterable[str], **options: Any) -> list[dict[str, Any]]:
    """Run (or resume) ``reassembly.Benchmark(out=out, **options)`` and return its rows, each cut
    down to :data:`RUN_FIELDS`, the task's ``metrics`` and the solver's options (``params.*``).

    Parameters
    ----------
    out
        The bench's output directory (a rerun skips the runs stored there).
    metrics
        The referee's columns to keep.
    **options
        Further options of :class:`reassembly.Benchmark` (``task``, ``solvers``, ``generator``, ...).
    """
    from reassembly import Benchmark

    keep = (*RUN_FIELDS, *metrics)
    rows = []
    for row in Benchmark(out=out, **options).run().rows:
        if row.get("status") != "ok":
            print(f"warning: {row['variant']} on {row['puzzle']}: {row['status']} ({row.get('error')})", flush=True)
        rows.append({**{k: row.get(k) for k in keep}, **{k: v for k, v in row.items() if k.startswith("params.")}})
    return rows


def write_rows(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Replace ``path`` with ``rows``, one JSON object a line.

    Parameters
    ----------
    path
        The study's data file.
    rows
        Its rows, in order.
    """
    from reassembly.atomic import atomic_write

    return atomic_write(path, "".join(json.dumps(r) + "\n" for r in rows))
