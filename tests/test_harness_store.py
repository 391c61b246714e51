"""Run keys and the results store, without running solvers."""
from __future__ import annotations

import pandas as pd

from reassembly.harness.plan import PuzzleEntry, Run, SolverEntry, config_id
from reassembly.harness.results import ResultStore, flatten, load_results, make_row
from reassembly.harness.runner import Outcome

PUZZLE = PuzzleEntry("abc-seed0", "/p", "synthetic", "d4", 0, {"depth": 4, "seed": 0})
PAPER = SolverEntry("paper", {}, {"rows": 1000, "seed": "delta-norm"})


def test_keys_name_puzzle_solver_params_and_seed() -> None:
    key = Run(PUZZLE, PAPER).key
    assert key == Run(PUZZLE, SolverEntry("paper", {"rows": 1000}, dict(PAPER.params))).key  # same params
    assert key != Run(PUZZLE, SolverEntry("paper", {}, {**PAPER.params, "rows": 500})).key
    assert key != Run(PUZZLE, SolverEntry("cosine", {}, PAPER.params)).key
    assert key != Run(PuzzleEntry("abc-seed1", "/p", "synthetic", "d4", 1), PAPER).key


def test_config_id_ignores_the_seed_only() -> None:
    assert config_id({"depth": 4, "seed": 0}) == config_id({"seed": 3, "depth": 4})
    assert config_id({"depth": 4, "seed": 0}) != config_id({"depth": 5, "seed": 0})


def test_rows_are_flat_and_the_last_per_key_wins(tmp_path) -> None:
    assert flatten({"a": {"b": 1}, "c": [1, 2]}, "x") == {"x.a.b": 1, "x.c": "[1, 2]"}
    store = ResultStore(tmp_path)
    first = make_row(Run(PUZZLE, PAPER), Outcome("timeout", {"seconds": 9.0}, "too slow"), 9.0, {"torch": "2"})
    store.append(first)
    again = make_row(Run(PUZZLE, PAPER), Outcome("ok", {"seconds": 3.0, "exact": True, "mse": float("nan")}), 9.0, {})
    store.append(again)
    with (tmp_path / "results.jsonl").open("a") as fh:
        fh.write('{"key": "torn')  # an interrupted write
    reopened = ResultStore(tmp_path)
    assert reopened.done() == {first["key"]}
    (row,) = reopened.rows()
    assert row["status"] == "ok" and row["mse"] is None and row["params.seed"] == "delta-norm"
    assert row["config.depth"] == 4 and row["seed"] == 0
    csv = pd.read_csv(tmp_path / "results.csv")
    assert len(csv) == 1 and csv.loc[0, "status"] == "ok"
    assert list(load_results(tmp_path)["status"]) == ["ok"]
