"""Anytime answers: a solver that reports an answer and then runs out of time gets a ``timeout`` row
with that answer's scores; what it reports is validated like a final answer; outside a bench
reporting does nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from helpers.cli import invoke
from helpers.synthetic import write_puzzle

from reassembly import anytime

PLUGIN = '''
import time
from reassembly.anytime import report
from reassembly.registry import register
from reassembly.solver import BaseSolver, SolveResult
from solvers.fast.solver import FastSolver


class ReportsThenSleeps(BaseSolver):
    """Reports fast's answer (or ``bad``: a piece twice) as its best so far, then sleeps past the timeout."""

    def __init__(self, bad: bool = False):
        self.bad = bad

    def solve(self, puzzle):
        result = FastSolver().solve(puzzle)
        if self.bad:
            blocks = list(result.assembly.blocks)
            blocks[1] = blocks[0]
            result.assembly = type(result.assembly)(tuple(blocks), result.assembly.head)
        report(result)
        time.sleep(60)


register("t-anytime", ReportsThenSleeps)
'''


@pytest.fixture(scope="module")
def benched(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, str]:
    root = tmp_path_factory.mktemp("anytime")
    (root / "anytime_plugin.py").write_text(PLUGIN)
    puzzle = write_puzzle(root / "p", with_answer=True, depth=4, width=6, rows=120)
    result = invoke(
        "bench",
        "--seeds",
        "0",
        "--puzzle",
        puzzle,
        "--out",
        root / "out",
        "--imports",
        root / "anytime_plugin.py",
        "-s",
        "t-anytime",
        "-s",
        "t-anytime[bad=true]",
        "--timeout",
        "3",
        "--jobs",
        "2",
        "--threads",
        "1",
    )
    assert result.exit_code == 0, result.output
    return pd.read_json(root / "out" / "results.jsonl", lines=True).set_index("variant"), result.output


def test_a_timeout_keeps_the_last_reported_answer_and_its_scores(benched) -> None:
    rows, output = benched
    row = rows.loc["t-anytime"]
    assert row.status == "timeout" and bool(row.exact) and row.grouping_accuracy == 1.0 and row.kendall_tau == 1.0
    assert row.mse < 1e-12 and isinstance(row.answer, str) and "scored its last reported answer" in row.error
    assert "timeout t-anytime on" in output and "last reported answer: exact" in output


def test_a_reported_answer_is_validated_like_a_final_one(benched) -> None:
    rows, _ = benched
    row = rows.loc["t-anytime[bad=true]"]
    assert row.status == "timeout" and pd.isna(row.mse) and pd.isna(row.exact)
    assert "its last reported answer is invalid" in row.error


def test_reporting_outside_a_bench_does_nothing_and_reading_is_strict(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(anytime.ENV, raising=False)
    assert anytime.report(object()) is False
    path = tmp_path / "a.json"
    assert anytime.collect(path) == {}
    path.write_text("[1, 2]")
    assert "not an object" in anytime.collect(path)["anytime_error"]
    path.write_text("{not json")
    assert "unreadable" in anytime.collect(path)["anytime_error"]
    path.write_text(json.dumps({"blocks": [[0, 1]], "head": [2]}))
    assert anytime.collect(path) == {"anytime": {"blocks": [[0, 1]], "head": [2]}}


@pytest.mark.parametrize("name", ["fast", "transformer"])
def test_fast_and_transformer_report_their_best_so_far(name: str, tmp_path: Path, monkeypatch) -> None:
    from helpers.sequences import make_sequence_puzzle
    from helpers.synthetic import make_puzzle

    from reassembly.answer import validate
    from reassembly.registry import get_solver

    puzzle = make_puzzle(depth=4, width=6, rows=120)[0] if name == "fast" else make_sequence_puzzle("bert")[0]
    path = tmp_path / "anytime.json"
    monkeypatch.setenv(anytime.ENV, str(path))
    get_solver(name).solve(puzzle)
    claims = anytime.read(path)
    from reassembly.answer import Assembly

    validate(Assembly(tuple(map(tuple, claims["blocks"])), tuple(claims["head"])), puzzle.layout)
    assert claims["certificate"] == {"kind": "anytime"} and claims["trace"]
