"""Query-only reassembly: the oracle's budget, enforced by the referee's process whatever the
solver claims; both baselines on a small puzzle; the bench's rows for the task; plugins per task."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import torch
from helpers.cli import invoke
from helpers.tasks import write_query_puzzle

from reassembly import registry
from reassembly.query.oracle import Oracle, OracleError
from reassembly.query.problem import load_query_puzzle
from reassembly.tasks import get_task

GREEDY = '''
import torch
from reassembly.registry import register
from reassembly.solver import BaseSolver
from reassembly.query.oracle import OracleError


class Greedy(BaseSolver):
    """Solves from 8 rows, then asks for more until refused, and claims it asked for none."""

    def solve(self, problem):
        from reassembly.registry import get_solver
        result = get_solver("query-random", queries=8).solve(problem)
        problem.oracle.budget = None  # the client's count could be wrong; the harness's is not
        try:
            while True:
                problem.oracle.query(problem.X[:7])
        except OracleError:
            pass
        result.certificate = {"queries": 0}
        return result


register("t-greedy", Greedy, task="query")
'''


def test_the_oracle_counts_rows_and_refuses_beyond_its_budget() -> None:
    oracle = Oracle(lambda X: X.sum(1, keepdim=True), d=3, budget=10)
    assert oracle.query(torch.ones(4, 3)).tolist() == [[3.0]] * 4
    with pytest.raises(OracleError, match="budget exhausted"):
        oracle.query(torch.ones(7, 3))
    oracle.query(torch.ones(6, 3))
    for bad in (torch.ones(1, 3), torch.ones(0, 3), torch.ones(2, 4), [[float("nan")] * 3], "rows"):
        with pytest.raises(OracleError):
            oracle.query(bad)
    assert oracle.counts() == {"queries": 10, "query_calls": 2, "queries_refused": 2, "budget": 10}


@pytest.mark.parametrize("name, options", [("query-random", {"queries": 16}), ("query-committee", {})])
def test_both_baselines_reassemble_a_small_puzzle_from_queries(tmp_path: Path, name: str, options: dict) -> None:
    root = write_query_puzzle(tmp_path / "q", budget=40, depth=3, width=6, rows=80)
    task = get_task("query")
    problem = task.attach(task.load(root), task.serve(root, root / "answer.json"))
    result = registry.get_solver(name, **options).solve(problem)
    judged = task.judge(task.prepare(root, root / "answer.json"), {**task.claims(result), **problem.oracle.counts()})
    assert judged["exact"] and 0 < judged["queries"] <= 40


def test_the_problem_hides_the_outputs(tmp_path: Path) -> None:
    root = write_query_puzzle(tmp_path / "q", depth=3, width=6, rows=30)
    assert "historical_data.csv" not in get_task("query").visible_files(root)
    assert load_query_puzzle(root).budget == 50


def test_the_referee_enforces_the_budget_whatever_the_solver_claims(tmp_path: Path) -> None:
    root = write_query_puzzle(tmp_path / "q", budget=30, depth=3, width=6, rows=60)
    plugin = tmp_path / "greedy_plugin.py"
    plugin.write_text(GREEDY)
    out = tmp_path / "out"
    args = [
        "bench",
        "--task",
        "query",
        "--seeds",
        "0",
        "--puzzle",
        root,
        "--imports",
        plugin,
        "-s",
        "t-greedy",
        "-s",
        "query-random[queries=8]",
        "--out",
        out,
        "--jobs",
        "1",
        "--timeout",
        "120",
    ]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    rows = {r["solver"]: r for r in map(json.loads, (out / "results.jsonl").read_text().splitlines())}
    greedy, random = rows["t-greedy"], rows["query-random"]
    assert greedy["task"] == random["task"] == "query" and greedy["status"] == random["status"] == "ok"
    assert (
        greedy["queries"] == 29 and greedy["exact"] and greedy["queries_refused"] == 1 and greedy["budget"] == 30
    )  # 8 + 3 x 7 rows, no more
    assert random["queries"] == 8 and random["exact"]
    assert set(pd.read_csv(out / "results.csv")["task"]) == {"query"}
    again = invoke(*args)  # resumed: nothing is run twice
    assert again.exit_code == 0 and len((out / "results.jsonl").read_text().splitlines()) == 2
    assert "task query" in invoke("report", out).output


def test_plugins_register_solvers_per_task_by_entry_point_group(monkeypatch) -> None:
    from importlib.metadata import EntryPoint, EntryPoints

    ours = [
        EntryPoint("t-ep-resync", "solvers.resync:ResyncCosineSolver", "reassembly.solvers.resync"),
        EntryPoint("t-ep-query", "solvers.query:RandomQuerySolver", "reassembly.solvers.query"),
    ]
    from reassembly import entrypoints

    real = entrypoints.entry_points  # every plugin group is read through reassembly.entrypoints

    def fake(**kwargs):
        found = real(**kwargs)
        if "group" in kwargs:
            return EntryPoints([*found, *(ep for ep in ours if ep.group == kwargs["group"])])
        everything = real()
        known = set(everything.groups if hasattr(everything, "groups") else everything)
        return SimpleNamespace(groups=known | {ep.group for ep in ours})

    monkeypatch.setattr(entrypoints, "entry_points", fake)
    specs = registry.specs()
    assert specs["t-ep-resync"].task == "resync" and specs["t-ep-query"].task == "query"
    from reassembly.harness.plan import resolve_solvers

    assert "t-ep-resync" in {s.name for s in resolve_solvers(None, task="resync")}
    with pytest.raises(Exception, match="solves task 'query'"):
        resolve_solvers(["t-ep-query"], task="resync")
