"""CLI: solve (line and JSON), verify, solvers, and a fast --help that imports no torch."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.cli import assert_clean_error, invoke
from helpers.synthetic import write_puzzle
from reassembly.answer import load_answer
from reassembly.permutation import permutation_sha256


@pytest.fixture(scope="module")
def solved_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_puzzle(tmp_path_factory.mktemp("cli") / "puzzle", with_answer=True)


def test_help_is_light() -> None:
    code = "import sys; from reassembly.cli import app; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
    result = invoke("--help")
    assert result.exit_code == 0 and "solve" in result.output and "verify" in result.output


def test_solve_prints_the_permutation_line(solved_dir: Path) -> None:
    result = invoke("solve", solved_dir, "--solver", "paper-hillclimb")
    assert result.exit_code == 0, result.output
    line = result.output.strip()
    assert re.fullmatch(r"\d+(,\d+)*", line), line  # comma-joined ids, no spaces
    assert permutation_sha256([int(i) for i in line.split(",")]) == load_answer(solved_dir).sha256


def test_solve_json(solved_dir: Path) -> None:
    result = invoke("solve", solved_dir, "--solver", "paper", "--json", "-o", "seed=wout-norm", "-o", "rows=500")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["solver"] == "paper"
    assert payload["params"]["seed"] == "wout-norm" and payload["params"]["rows"] == 500
    assert all(isinstance(i, int) for i in payload["permutation"])
    assert payload["sha256"] == permutation_sha256(payload["permutation"]) == load_answer(solved_dir).sha256
    assert payload["mse"] < 1e-12 and payload["seconds"] > 0
    assert [s["stage"] for s in payload["stages"]] == ["pairing", "seed", "ranking", "repair"]
    for stage in payload["stages"]:
        assert {"mse", "rounds", "swaps", "evaluations", "seconds"} <= set(stage)


def test_verify(solved_dir: Path) -> None:
    answer = load_answer(solved_dir)
    perm = ",".join(map(str, answer.permutation))
    result = invoke("verify", solved_dir, perm)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[1] == f"sha256 {answer.sha256}"
    assert lines[0].startswith("mse ") and float(lines[0].split()[1]) < 1e-12


def test_verify_wrong_order_has_positive_mse(solved_dir: Path) -> None:
    p = list(load_answer(solved_dir).permutation)
    p[0:2], p[2:4] = p[2:4], p[0:2]
    result = invoke("verify", solved_dir, ",".join(map(str, p)))
    assert result.exit_code == 0 and float(result.output.split()[1]) > 1e-8


@pytest.mark.parametrize(("perm", "fragment"), [
    ("1,2,x", "not a comma-separated list of integers"),
    ("0,1,2", "has 3 ids, the puzzle has 17 pieces"),
])
def test_verify_bad_permutation(solved_dir: Path, perm: str, fragment: str) -> None:
    assert_clean_error(invoke("verify", solved_dir, perm), fragment)


def test_solvers_lists_builtins() -> None:
    result = invoke("solvers")
    assert result.exit_code == 0, result.output
    for name in ("paper", "paper-hillclimb", "cosine", "built-in", "solvers.paper:PaperSolver"):
        assert name in result.output


def test_solvers_load_shows_options() -> None:
    result = invoke("solvers", "--load")
    assert result.exit_code == 0, result.output
    assert "temperature=None" in result.output
