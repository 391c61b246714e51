"""Results on disk: one flat row per run in ``results.jsonl`` (the record) and ``results.csv``
(rebuilt from it at the end of a bench, or when asked: :meth:`ResultStore.rebuild_csv`), both read
by pandas. Appending a row costs the same whatever the record's length.

Writers take a lock (several benches may share an output directory); a torn last line (a bench
killed mid-write) is ended before the next row is appended and skipped with a warning when read;
where a run is redone, its old row is removed from the record, so each key has one row.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import math
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reassembly.atomic import atomic_write
from reassembly.errors import ConfigError
from reassembly.tasks import get_task

JSONL_NAME = "results.jsonl"
CSV_NAME = "results.csv"
LOCK_NAME = ".results.lock"
log = logging.getLogger(__name__)


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


def clean(row: dict[str, Any]) -> dict[str, Any]:
    """NaN and infinities as ``None`` (strict JSON)."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}


def parse_lines(text: str, source: str = JSONL_NAME) -> list[dict[str, Any]]:
    """Rows of a JSON-lines text, last per key; lines that do not parse are skipped with a warning."""
    rows: dict[str, dict[str, Any]] = {}
    bad = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            bad += 1
            continue
        if isinstance(row, dict) and isinstance(row.get("key"), str):
            rows.pop(row["key"], None)
            rows[row["key"]] = row
        else:
            bad += 1
    if bad:
        log.warning("%s: skipped %d line(s) that are not result rows (torn or edited)", source, bad)
    return list(rows.values())


def read_rows(directory: str | Path) -> list[dict[str, Any]]:
    path = Path(directory) / JSONL_NAME
    if path.is_symlink() or not path.is_file():
        return []
    return parse_lines(path.read_text(errors="replace"), str(path))


def ours(path: Path) -> bool:
    """Whether a ``results.jsonl`` is this harness's: a regular file, empty or starting as its rows
    do (``{"key": ``; a first row torn by a kill still does)."""
    if path.is_symlink() or not path.is_file():
        return False
    with path.open("rb") as fh:
        head = fh.read(64).lstrip()
    return not head or head.startswith(b'{"key": ')


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """An exclusive lock on the output directory's results, across processes."""
    try:
        fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        raise ConfigError(f"{directory / LOCK_NAME}: cannot lock the results ({exc.strerror})") from None
    with os.fdopen(fd, "r+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _atomic(path: Path, text: str) -> None:
    atomic_write(path, text)


class ResultStore:
    """The rows of one output directory."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.jsonl = self.directory / JSONL_NAME
        self.csv = self.directory / CSV_NAME
        self._keys: set[str] = set()
        self._seen: tuple[int | None, int] = (None, 0)  # (inode, bytes) of the record read into _keys

    def rows(self) -> list[dict[str, Any]]:
        return read_rows(self.directory)

    def statuses(self) -> dict[str, str]:
        """Stored keys and their status."""
        return {r["key"]: str(r.get("status")) for r in self.rows()}

    def remove(self, keys: set[str]) -> None:
        """Drop the rows of ``keys`` from the record (they are about to be redone)."""
        if not keys:
            return
        with locked(self.directory):
            kept = [r for r in self.rows() if r["key"] not in keys]
            _atomic(self.jsonl, "".join(json.dumps(r) + "\n" for r in kept))
            self._write_csv(kept)

    def append(self, row: dict[str, Any]) -> None:
        """Store ``row`` durably now (a torn last line is ended first). The CSV is not rebuilt (see
        :meth:`rebuild_csv`); only the lines appended since this store last looked are read, so an
        append costs the same whatever the record's length."""
        line = json.dumps(clean(row), default=str, allow_nan=False) + "\n"
        with locked(self.directory):
            if row["key"] in self._known_keys():  # one row per key in the record (a redone run)
                _atomic(self.jsonl, "".join(json.dumps(r) + "\n" for r in self.rows() if r["key"] != row["key"]))
            try:  # never through a symlink, never onto something that is not a plain file
                fd = os.open(self.jsonl, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o644)
            except OSError as exc:
                raise ConfigError(f"{self.jsonl}: cannot append a row ({exc.strerror})") from None
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                raise ConfigError(f"{self.jsonl}: not a regular file; refusing to append to it")
            with os.fdopen(fd, "a+b") as fh:
                fh.seek(0, os.SEEK_END)
                if fh.tell():
                    fh.seek(-1, os.SEEK_END)
                    if fh.read(1) != b"\n":
                        fh.write(b"\n")
                fh.write(line.encode())
                fh.flush()
                os.fsync(fh.fileno())
            self._keys.add(row["key"])

    def _known_keys(self) -> set[str]:
        """The record's keys, read incrementally: the whole file only where it was replaced since
        (another writer removed rows), else the complete lines added since the last look."""
        try:
            info = self.jsonl.stat()
        except FileNotFoundError:
            self._keys, self._seen = set(), (None, 0)
            return self._keys
        inode, offset = self._seen
        if inode != info.st_ino or info.st_size < offset:
            self._keys, offset = set(), 0
        with self.jsonl.open("rb") as fh:
            fh.seek(offset)
            chunk = fh.read(info.st_size - offset)
        end = chunk.rfind(b"\n") + 1  # a torn last line is read once it is ended
        for text in chunk[:end].splitlines():
            try:
                key = json.loads(text).get("key")
            except (ValueError, AttributeError):
                continue
            if isinstance(key, str):
                self._keys.add(key)
        self._seen = (info.st_ino, offset + end)
        return self._keys

    def rebuild_csv(self) -> None:
        """Write ``results.csv`` afresh from the record (a bench does so once, at its end)."""
        with locked(self.directory):
            self._write_csv(self.rows())

    def _write_csv(self, rows: list[dict[str, Any]]) -> None:
        import pandas as pd

        _atomic(self.csv, pd.DataFrame(rows).to_csv(index=False))


def make_row(
    run: Any,
    status: str,
    fields: dict[str, Any],
    error: str | None,
    wall: float,
    timeout: float | None,
    env: dict[str, Any],
) -> dict[str, Any]:
    """The flat row of one finished run (a :class:`reassembly.harness.plan.Run`): identity, status,
    metrics, facts, configuration, environment."""
    trace = fields.get("trace")
    row: dict[str, Any] = {
        "key": run.key,
        "task": run.puzzle.task,
        "puzzle": run.puzzle.id,
        "suite": run.puzzle.suite,
        "kind": run.puzzle.kind,
        "content": run.puzzle.content,
        "pinned": run.puzzle.pinned,
        "seed": run.puzzle.seed,
        "solver": run.solver.name,
        "variant": run.solver.label,
        "status": status,
        "error": error,
        "failure": fields.get("failure"),
        **{
            m: fields.get(m)
            for m in (
                "exact",
                "grouping_accuracy",
                "order_exact",
                "kendall_tau",
                "mse",
                "true_mse",
                "sha256",
                "seconds",
                "claimed_seconds",
                "evaluations",
            )
        },
        "wall_seconds": wall,
        "timeout": timeout,
        **{k: fields.get(k) for k in ("family", "depth", "d", "h", "o", "rows", "identifiable", "torch_threads")},
        "certificate": (fields.get("certificate") or {}).get("kind")
        if isinstance(fields.get("certificate"), dict)
        else None,
        "trace": json.dumps(trace) if trace else None,
        "answer": fields.get("answer"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    task = get_task(run.puzzle.task)
    row.update({m: fields.get(m) for m in (*(c.name for c in task.columns), *task.metrics) if m not in row})
    row.update(flatten(run.solver.params, "params"))
    row.update(flatten(run.puzzle.config, "config"))
    row.update(flatten(env, "env"))
    return clean(row)


def load_results(directory: str | Path) -> pd.DataFrame:  # noqa: F821
    """Saved rows of ``DIR`` as a DataFrame (from ``results.jsonl``, else ``results.csv``)."""
    import pandas as pd

    root = Path(directory)
    if not root.is_dir():
        raise ConfigError(f"{root}: results directory not found")
    rows = read_rows(root)
    if rows:
        return pd.DataFrame(rows)
    if (root / CSV_NAME).is_file():
        try:
            return pd.read_csv(root / CSV_NAME)
        except Exception as exc:
            raise ConfigError(f"{root / CSV_NAME}: cannot be read ({str(exc).splitlines()[0][:120]})") from None
    raise ConfigError(f"{root}: no {JSONL_NAME} or {CSV_NAME} (run `reassembly bench --out {root}` first)")
