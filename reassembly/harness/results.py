"""Results on disk: one flat row per run in ``results.jsonl`` (appended and flushed as each run
finishes) and ``results.csv`` (rewritten from it), both read by pandas. Resuming skips keys
already stored; where a key was run again (``--force``) the last row wins.
"""
from __future__ import annotations

import json
import math
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from reassembly.harness.plan import Run
from reassembly.harness.runner import Outcome

JSONL_NAME = "results.jsonl"
CSV_NAME = "results.csv"
METRICS = ("exact", "pairing_accuracy", "order_exact", "kendall_tau", "mse", "sha256", "seconds", "evaluations")


def flatten(data: dict[str, Any], prefix: str) -> dict[str, Any]:
    """``{"a": {"b": 1}}`` → ``{"prefix.a.b": 1}``; non-scalar leaves become JSON text."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}.{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name))
        elif value is None or isinstance(value, (bool, int, float, str)):
            out[name] = value
        else:
            out[name] = json.dumps(value, default=str)
    return out


def make_row(run: Run, outcome: Outcome, timeout: float | None, env: dict[str, Any]) -> dict[str, Any]:
    """The flat row of one finished run: identity, status, metrics, facts, configuration, environment."""
    f = outcome.fields
    row: dict[str, Any] = {
        "key": run.key,
        "puzzle": run.puzzle.id,
        "suite": run.puzzle.suite,
        "kind": run.puzzle.kind,
        "seed": run.puzzle.seed,
        "solver": run.solver.name,
        "status": outcome.status,
        "error": outcome.error,
        **{m: f.get(m) for m in METRICS},
        "wall_seconds": outcome.wall_seconds,
        "timeout": timeout,
        **{k: f.get(k) for k in ("depth", "width", "hidden", "rows", "torch_threads")},
        "permutation": f.get("permutation"),
        "puzzle_path": run.puzzle.path,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    row.update(flatten(run.solver.params, "params"))
    row.update(flatten(run.puzzle.config, "config"))
    row.update(flatten(env, "env"))
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}


def read_rows(directory: str | Path) -> list[dict[str, Any]]:
    """Rows stored in ``DIR/results.jsonl``, last per key (a torn last line is ignored)."""
    path = Path(directory) / JSONL_NAME
    if not path.is_file():
        return []
    rows: dict[str, dict[str, Any]] = {}
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and "key" in row:
            rows.pop(row["key"], None)
            rows[row["key"]] = row
    return list(rows.values())


class ResultStore:
    """Append-only row log with a CSV view, in one output directory."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.jsonl = self.directory / JSONL_NAME
        self.csv = self.directory / CSV_NAME
        self._rows = {r["key"]: r for r in read_rows(self.directory)}

    def done(self) -> set[str]:
        return set(self._rows)

    def rows(self) -> list[dict[str, Any]]:
        return list(self._rows.values())

    def append(self, row: dict[str, Any]) -> None:
        """Store ``row`` durably now (JSON line flushed and synced), then refresh the CSV."""
        with self.jsonl.open("a") as fh:
            fh.write(json.dumps(row, default=str) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self._rows.pop(row["key"], None)
        self._rows[row["key"]] = row
        self.write_csv()

    def write_csv(self) -> None:
        import pandas as pd

        tmp = self.csv.with_suffix(".csv.tmp")
        pd.DataFrame(self.rows()).to_csv(tmp, index=False)
        os.replace(tmp, self.csv)


def load_results(directory: str | Path) -> "pd.DataFrame":  # noqa: F821
    """Saved rows of ``DIR`` as a DataFrame (from ``results.jsonl``, else ``results.csv``)."""
    import pandas as pd

    from reassembly.errors import ConfigError

    root = Path(directory)
    if not root.is_dir():
        raise ConfigError(f"{root}: results directory not found")
    rows = read_rows(root)
    if rows:
        return pd.DataFrame(rows)
    if (root / CSV_NAME).is_file():
        return pd.read_csv(root / CSV_NAME)
    raise ConfigError(f"{root}: no {JSONL_NAME} or {CSV_NAME} (run `reassembly bench --out {root}` first)")
