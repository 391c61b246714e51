"""CLI: solve (line and JSON), verify, solvers, --version, python -m, and a --help that imports no torch."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.cli import assert_clean_error, invoke
from helpers.synthetic import write_puzzle

from reassembly.answer import load_answer


@pytest.fixture(scope="module")
def solved_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_puzzle(tmp_path_factory.mktemp("cli") / "puzzle", with_answer=True)


def test_help_is_light() -> None:
    code = "import sys; from reassembly.cli import app; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
    result = invoke("--help")
    assert result.exit_code == 0 and "solve" in result.output and "verify" in result.output
    assert "`" not in invoke("bench", "--help").output  # plain help text, no RST markup


def test_version_and_python_m() -> None:
    from reassembly import __version__

    assert invoke("--version").output.strip() == f"reassembly {__version__}"
    out = subprocess.run([sys.executable, "-m", "reassembly", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"reassembly {__version__}"


def test_solve_prints_the_answer_line(solved_dir: Path) -> None:
    result = invoke("solve", solved_dir, "--solver", "paper", "--threads", "1")
    assert result.exit_code == 0, result.output
    line = result.output.strip()
    assert re.fullmatch(r"\d+(,\d+)*", line), line  # comma-joined ids, no spaces
    import hashlib

    assert hashlib.sha256(line.encode()).hexdigest() == load_answer(solved_dir).sha256


def test_solve_json_is_strict_and_timed(solved_dir: Path) -> None:
    result = invoke("solve", solved_dir, "--solver", "paper[seed=wout-norm]", "--json", "-o", "rows=500")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert payload["solver"] == "paper"
    assert payload["params"]["seed"] == "wout-norm" and payload["params"]["rows"] == 500
    assert payload["sha256"] == load_answer(solved_dir).sha256 and payload["answer"].count(",") == 16
    assert payload["mse"] < 1e-12 and payload["seconds"] > 0
    assert [s["stage"] for s in payload["stages"]] == ["pairing", "seed", "ranking", "repair"]
    assert payload["stages"][0]["mse"] is None  # NaN in a stage report is null, not NaN
    for stage in payload["stages"]:
        assert {"mse", "rounds", "swaps", "evaluations", "seconds"} <= set(stage)


def test_verify_says_whether_it_matches(solved_dir: Path) -> None:
    answer = load_answer(solved_dir)
    ids = list(answer.ids)
    result = invoke("verify", solved_dir, ",".join(map(str, ids)))
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[1] == f"sha256 {answer.sha256}" and lines[2] == "matches answer.json"
    assert lines[0].startswith("mse ") and float(lines[0].split()[1]) < 1e-12
    ids[0:2], ids[2:4] = ids[2:4], ids[0:2]
    wrong = invoke("verify", solved_dir, ",".join(map(str, ids)))
    assert wrong.exit_code == 1 and float(wrong.output.split()[1]) > 1e-8
    assert "does not match answer.json (grouping 100%, Kendall τ" in wrong.output


def test_verify_without_a_known_answer(puzzle_dir: Path) -> None:
    line = invoke("solve", puzzle_dir).output.strip()
    result = invoke("verify", puzzle_dir, line)
    assert result.exit_code == 0 and "no known answer to compare with" in result.output


@pytest.mark.parametrize(
    ("ids", "fragment"),
    [
        ("1,2,x", "not a comma-separated list of integers"),
        ("0,1,2", "has 3 ids, the puzzle has 17 pieces"),
    ],
)
def test_verify_bad_answer(solved_dir: Path, ids: str, fragment: str) -> None:
    assert_clean_error(invoke("verify", solved_dir, ids), fragment)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["-o", "rows=abc"], "option rows: expected"),
        (["-o", "random_state=1.5"], "option random_state: expected int"),
        (["-o", "rows=-5"], "option rows: must be [2, inf]"),
        (["-s", "fast[search__patience=[1,2]]"], "is a grid of several variants"),
        (["-s", "fast[oops]"], "must look like NAME=VALUE"),
        (["--threads", "0"], "--threads must be >= 1"),
    ],
)
def test_bad_solver_options_are_one_line_errors(solved_dir: Path, args: list[str], fragment: str) -> None:
    assert_clean_error(invoke("solve", solved_dir, *args), fragment)


PLUGIN = """
from reassembly.registry import register
from reassembly.solver import BaseSolver, SolveResult
from reassembly.answer import Assembly


class Listy(BaseSolver):
    def solve(self, puzzle):
        return [1, 2, 3]


class Twice(BaseSolver):
    def solve(self, puzzle):
        pools = puzzle.layout.pools
        block = (pools["inp"][0], pools["out"][0])
        return SolveResult(Assembly(tuple(block for _ in pools["inp"]), (pools["last"][0],)))


register("t-listy", Listy)
register("t-twice", Twice)
"""


def test_a_plugin_returning_garbage_is_a_clean_error(solved_dir: Path, tmp_path: Path) -> None:
    plugin = tmp_path / "cli_garbage_plugin.py"
    plugin.write_text(PLUGIN)
    try:
        assert_clean_error(
            invoke("solve", solved_dir, "--imports", plugin, "-s", "t-listy"),
            "solver 't-listy' returned a list, not a SolveResult",
        )
        assert_clean_error(
            invoke("solve", solved_dir, "--imports", plugin, "-s", "t-twice"),
            "solver 't-twice' returned an invalid answer",
            "repeated",
        )
    finally:
        from reassembly.registry import unregister

        unregister("t-listy")
        unregister("t-twice")
        sys.modules.pop("cli_garbage_plugin", None)


def test_solvers_lists_builtins() -> None:
    result = invoke("solvers")
    assert result.exit_code == 0, result.output
    for name in ("paper", "paper-hillclimb", "cosine", "fast", "built-in", "solvers.paper:PaperSolver"):
        assert name in result.output


def test_solvers_load_shows_every_top_level_option_with_help() -> None:
    result = invoke("solvers", "--load")
    assert result.exit_code == 0, result.output
    from solvers.fast import FastSolver

    for option, text in FastSolver.param_help().items():
        assert option in result.output and text.split()[0] in result.output, option
    assert "temperature" in result.output and "None" in result.output


def test_files_written_by_generate_are_readable_by_others(tmp_path: Path) -> None:
    out = tmp_path / "g"
    result = invoke(
        "generate", "--depth", "2", "--width", "4", "--hidden", "6", "--rows", "40", "--epochs", "1", "--out", out, "-q"
    )
    assert result.exit_code == 0, result.output
    for path in out.rglob("*"):
        if path.is_file():
            assert os.stat(path).st_mode & 0o044 == 0o044, path


def test_parquet_without_pyarrow_fails_up_front_in_one_line(tmp_path) -> None:
    import importlib.util

    if importlib.util.find_spec("pyarrow") is not None:
        pytest.skip("pyarrow is installed here")
    result = invoke("report", tmp_path, "--parquet", tmp_path / "rows.parquet")
    assert_clean_error(result, "--parquet needs pyarrow", ".[parquet]")
    assert "Exact recovery" not in result.output and len(result.output.strip().splitlines()) == 1


def test_threads_come_from_the_cores_actually_free(monkeypatch) -> None:
    from reassembly import machine

    monkeypatch.setattr(machine.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(machine.os, "cpu_count", lambda: 8)
    for load, free in ((0.0, 2), (4.0, 1), (16.0, 1), (2.0, 2)):
        monkeypatch.setattr(machine.os, "getloadavg", lambda load=load: (load, load, load))
        assert machine.free_cores() == free, load
    monkeypatch.setattr(machine.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(machine.os, "getloadavg", lambda: (1.0, 1.0, 1.0))
    assert machine.free_cores() == 1
