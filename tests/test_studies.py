"""The docs' studies go through the bench: every row they keep is a row the referee scored (same
key, same scores), a rerun redoes nothing, and their figures draw from the rows they write."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_real_networks import REAL_CACHE, weights

from reassembly.harness.results import read_rows

STUDIES = Path(__file__).resolve().parents[1] / "docs" / "studies"
TINY = {"width": 6, "hidden": 12, "rows": 256, "epochs": 2, "batch_size": 64}


@pytest.fixture
def studies(monkeypatch: pytest.MonkeyPatch) -> Path:
    """The study scripts importable as they import each other (from their own folder)."""
    monkeypatch.syspath_prepend(str(STUDIES))
    return STUDIES


def referee_rows(bench: Path) -> dict[str, dict]:
    return {r["key"]: r for r in read_rows(bench)}


def test_the_resync_study_keeps_the_referees_rows(tmp_path: Path, studies: Path) -> None:
    import tasks_resync
    from tasks_plots import resync_figure

    bench, out = tmp_path / "bench", tmp_path / "rows.jsonl"
    sweeps = {"noise": [0.5], "finetune": [5, 2], "rescale=0.05+noise": [0.0]}
    rows = tasks_resync.run([0], bench, out, depth=2, timeout=120, sweeps=sweeps, options=TINY)
    stored = referee_rows(bench)
    assert len(rows) == 4 * len(tasks_resync.SOLVERS) == len(stored)
    for row in rows:
        judged = stored[row["key"]]
        assert row["status"] == "ok" and row["solver"] == judged["variant"]
        assert all(row[m] == judged[m] for m in tasks_resync.METRICS)
    assert [json.loads(line) for line in out.read_text().splitlines()] == rows
    assert [r["value"] for r in rows if r["kind"] == "finetune"][::3] == [2, 5]  # the shorter run first
    assert tasks_resync.run([0], bench, out, depth=2, timeout=120, sweeps=sweeps, options=TINY) == rows
    assert len(read_rows(bench)) == len(stored)  # nothing redone
    assert resync_figure(out, tmp_path / "resync.png").stat().st_size > 0


def test_the_blackbox_study_counts_queries_in_the_harness(tmp_path: Path, studies: Path) -> None:
    import tasks_blackbox
    from tasks_plots import blackbox_figure

    bench, out = tmp_path / "bench", tmp_path / "rows.jsonl"
    rows = tasks_blackbox.run(
        [0], bench, out, timeout=120, random_queries=[64], kinks_budgets=[300], sizes=[(8, 16, 2)]
    )
    stored = referee_rows(bench)
    assert [(r["study"], r["solver"], r["setting"], r["value"]) for r in rows] == [
        ("curve", "blackbox-random", "queries", 64),
        ("curve", "blackbox-kinks", "budget", 300),
        ("sizes", "blackbox-kinks", "budget", tasks_blackbox.UNLIMITED),
    ]
    for row in rows:
        judged = stored[row["key"]]
        assert all(row[m] == judged[m] for m in tasks_blackbox.METRICS)
        assert row["queries"] <= row["budget"] and row["queries_refused"] is not None
    assert rows[0]["queries"] == 64 and rows[1]["budget"] == 300
    assert rows[2]["max_error"] < 1e-4  # ours reads the small network exactly
    assert blackbox_figure(out, tmp_path / "blackbox.png").stat().st_size > 0


def test_the_resync_study_runs_a_real_networks_layers(tmp_path: Path, studies: Path) -> None:
    weights("minilm", "safetensors")  # skips, with the fetch command, where the weights are absent
    import tasks_resync
    from tasks_plots import real_resync_table

    bench, out = tmp_path / "bench", tmp_path / "rows.jsonl"
    rows = tasks_resync.run([0], bench, out, sweeps={"quantize": [4]}, source="minilm", layers=1, cache_dir=REAL_CACHE)
    stored = referee_rows(bench)
    assert [r["solver"] for r in rows] == tasks_resync.REAL_SOLVERS and len(stored) == 2
    assert all(r["family"] == "minilm" and r["psi"] == stored[r["key"]]["psi"] == 1 for r in rows)
    assert "| minilm (1 layers, 2 groups) | quantize=4 | 0 | 100% | 100% |" in real_resync_table([out])


def test_the_ties_diagnostic_counts_units_equal_to_another(studies: Path) -> None:
    import torch

    from resync_real_ties import tied_units

    assert tied_units(torch.tensor([[1.0, 2.0], [1.0, 2.0], [3.0, 4.0], [0.0, 0.0]])) == 2
    assert tied_units(torch.eye(3)) == 0
