"""Run keys and the results store, without running solvers: one row per key, torn lines, locks,
the CSV rebuilt from the record when asked, appends in constant time."""

from __future__ import annotations

import json
import multiprocessing as mp

import pandas as pd
import pytest

from reassembly.harness.plan import PuzzleEntry, Run, SolverEntry, suite_labels
from reassembly.harness.results import ResultStore, flatten, load_results, make_row

PUZZLE = PuzzleEntry("abc-seed0", "/p", "synthetic", "d4", "c0ffee", None, 0, {"depth": 4, "seed": 0})
PAPER = SolverEntry("paper", {}, {"rows": 1000, "seed": "delta-norm"}, "paper")


def row(run: Run, status: str, error: str | None = None, **fields) -> dict:
    return make_row(run, status, fields, error, 1.0, 9.0, {"torch": "2"})


def test_keys_name_puzzle_content_solver_and_params() -> None:
    key = Run(PUZZLE, PAPER).key
    assert key == Run(PUZZLE, SolverEntry("paper", {"rows": 1000}, dict(PAPER.params), "paper[rows=1000]")).key
    assert key != Run(PUZZLE, SolverEntry("paper", {}, {**PAPER.params, "rows": 500}, "x")).key
    assert key != Run(PUZZLE, SolverEntry("cosine", {}, PAPER.params, "cosine")).key
    assert key != Run(PuzzleEntry("abc-seed1", "/p", "synthetic", "d4", "c0ffee", None, 1), PAPER).key
    assert key != Run(PuzzleEntry("abc-seed0", "/p", "synthetic", "d4", "other", None, 0), PAPER).key  # changed content


def test_suites_are_named_by_what_differs() -> None:
    configs = [
        {"block": "relu", "depth": 16, "recipe_lr": 1e-3, "seed": 0},
        {"block": "relu", "depth": 48, "recipe_lr": 1e-3, "seed": 0},
        {"block": "relu", "depth": 48, "recipe_lr": 1e-4, "seed": 1},
    ]
    assert suite_labels(configs) == ["depth=16 lr=0.001", "depth=48 lr=0.001", "depth=48 lr=0.0001"]
    assert suite_labels(configs[:1]) == ["block=relu depth=16"]


def test_rows_are_flat_one_per_key_and_torn_lines_are_skipped(tmp_path, caplog) -> None:
    assert flatten({"a": {"b": 1}, "c": [1, 2]}, "x") == {"x.a.b": 1, "x.c": "[1, 2]"}
    store = ResultStore(tmp_path)
    run = Run(PUZZLE, PAPER)
    store.append(row(run, "timeout", seconds=9.0, error="too slow"))
    with (tmp_path / "results.jsonl").open("a") as fh:
        fh.write('{"key": "torn')  # an interrupted write ...
    other = Run(PuzzleEntry("abc-seed1", "/p", "synthetic", "d4", "c0ffee", None, 1), PAPER)
    store.append(row(other, "ok", exact=True))  # ... is ended before the next row, which stays whole
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    assert len(lines) == 3 and lines[1] == '{"key": "torn' and json.loads(lines[2])["key"] == other.key
    store.rows()
    assert "skipped 1 line" in caplog.text
    store.append(row(run, "ok", seconds=3.0, exact=True, mse=float("nan")))  # a redone run replaces its row
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    assert len(lines) == 2
    only = next(r for r in store.rows() if r["key"] == run.key)
    assert only["status"] == "ok" and only["mse"] is None and only["params.seed"] == "delta-norm"
    assert only["config.depth"] == 4 and only["seed"] == 0 and only["variant"] == "paper"
    assert json.loads(lines[1])["mse"] is None  # strict JSON: no NaN
    assert not (tmp_path / "results.csv").exists()  # appending does not rebuild the CSV ...
    store.rebuild_csv()  # ... a bench does, at its end
    csv = pd.read_csv(tmp_path / "results.csv")
    assert len(csv) == 2 and set(csv["status"]) == {"ok"}
    assert list(load_results(tmp_path)["status"]) == ["ok", "ok"]


def test_a_truncated_csv_is_rebuilt_from_the_record(tmp_path) -> None:
    store = ResultStore(tmp_path)
    for seed in range(3):
        store.append(
            row(Run(PuzzleEntry(f"p{seed}", "/p", "synthetic", "d4", "c", None, seed), PAPER), "ok", exact=True)
        )
    (tmp_path / "results.csv").write_text("key,sta")
    store.rebuild_csv()
    assert len(pd.read_csv(tmp_path / "results.csv")) == 3


def test_removed_rows_leave_the_record(tmp_path) -> None:
    store = ResultStore(tmp_path)
    runs = [Run(PuzzleEntry(f"p{s}", "/p", "synthetic", "d4", "c", None, s), PAPER) for s in range(3)]
    for r in runs:
        store.append(row(r, "ok", exact=True))
    store.remove({runs[1].key})
    assert len((tmp_path / "results.jsonl").read_text().splitlines()) == 2
    assert len(pd.read_csv(tmp_path / "results.csv")) == 2


def _writer(directory: str, k: int) -> None:
    store = ResultStore(directory)
    for i in range(20):
        entry = PuzzleEntry(f"w{k}-{i}", "/p", "synthetic", "d4", "c", None, i)
        store.append(make_row(Run(entry, PAPER), "ok", {"exact": True}, None, 1.0, 9.0, {}))


def test_concurrent_writers_lose_no_rows(tmp_path) -> None:
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), k)) for k in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert len(ResultStore(tmp_path).rows()) == 60
    ResultStore(tmp_path).rebuild_csv()
    assert len(pd.read_csv(tmp_path / "results.csv")) == 60


@pytest.mark.parametrize("bad", ['{"no key": 1}', "[1, 2]", "not json at all"])
def test_rows_that_are_not_result_rows_are_skipped(tmp_path, bad) -> None:
    (tmp_path / "results.jsonl").write_text(bad + "\n" + json.dumps({"key": "k", "status": "ok", "solver": "a"}) + "\n")
    assert [r["key"] for r in ResultStore(tmp_path).rows()] == ["k"]


def test_appending_reads_only_what_was_added(tmp_path, monkeypatch) -> None:
    """The 1,000th append reads no more of the record than the 2nd (no rewrite, no CSV, no full read)."""
    store = ResultStore(tmp_path)
    runs = [Run(PuzzleEntry(f"p{s}", "/p", "synthetic", "d4", "c", None, s), PAPER) for s in range(1000)]
    rows = [row(r, "ok", exact=True) for r in runs]
    read = []
    original = ResultStore._known_keys

    def counting(self):
        before = self._seen[1]
        keys = original(self)
        read.append(self._seen[1] - before)
        return keys

    monkeypatch.setattr(ResultStore, "_known_keys", counting)
    monkeypatch.setattr(ResultStore, "rows", lambda self: pytest.fail("append read the whole record"))
    for r in rows:
        store.append(r)
    assert max(read[1:]) <= 2 * read[1] and not (tmp_path / "results.csv").exists()
    monkeypatch.undo()
    other = ResultStore(tmp_path)  # a second writer sees the first one's keys: a redo replaces the row
    other.append(row(runs[5], "error", error="redone"))
    assert len(store.rows()) == 1000 and next(r for r in store.rows() if r["key"] == runs[5].key)["status"] == "error"
