"""The real Jane Street puzzle: architecture, and each built-in solver's exact answer via the CLI.

Skipped (with the reason) where the puzzle is absent: see ``janestreet_dir`` in conftest.py.
One full solve per solver; the ``paper`` solve runs with ``--json`` and feeds the JSON and
``verify`` checks too.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from helpers.cli import invoke
from reassembly.janestreet import JANESTREET_SHA256
from reassembly.permutation import parse_permutation, permutation_sha256
from reassembly.puzzle import Architecture

pytestmark = pytest.mark.janestreet


@pytest.fixture(scope="module")
def paper_json(janestreet_dir: Path) -> dict:
    """``reassembly solve DIR --solver paper --json``, run once."""
    result = invoke("solve", janestreet_dir, "--solver", "paper", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_architecture(janestreet) -> None:
    assert janestreet.architecture == Architecture(input_dim=48, hidden_dim=96, output_dim=1, depth=48)
    assert janestreet.roles.last == 85
    assert len(janestreet.roles.inputs) == len(janestreet.roles.outputs) == 48
    assert janestreet.n_rows == 10_000 and janestreet.true is not None


def test_paper_solver_json(paper_json: dict) -> None:
    assert paper_json["solver"] == "paper"
    perm = paper_json["permutation"]
    assert all(isinstance(i, int) for i in perm) and len(perm) == 97
    assert paper_json["sha256"] == permutation_sha256(perm) == JANESTREET_SHA256
    assert paper_json["mse"] < 1e-10 and paper_json["seconds"] > 0
    stages = {s["stage"]: s for s in paper_json["stages"]}
    assert list(stages) == ["pairing", "seed", "ranking", "repair"]
    assert stages["pairing"]["details"]["gap"] > 1.0  # the paper reports 1.18
    assert stages["seed"]["mse"] > stages["repair"]["mse"]
    assert stages["ranking"]["evaluations"] >= 48 * 47 // 2


@pytest.mark.parametrize("solver", ["paper-hillclimb", "cosine"])
def test_solver_line(janestreet_dir: Path, solver: str) -> None:
    result = invoke("solve", janestreet_dir, "--solver", solver)
    assert result.exit_code == 0, result.output
    line = result.output.strip()
    assert re.fullmatch(r"\d+(,\d+)*", line), line
    assert permutation_sha256(parse_permutation(line)) == JANESTREET_SHA256


def test_verify(janestreet_dir: Path, paper_json: dict) -> None:
    result = invoke("verify", janestreet_dir, ",".join(map(str, paper_json["permutation"])))
    assert result.exit_code == 0, result.output
    mse_line, sha_line = result.output.strip().splitlines()
    assert sha_line == f"sha256 {JANESTREET_SHA256}"
    assert float(mse_line.split()[1]) < 1e-10


def test_default_solver_is_fast_exact_and_certified(janestreet_dir: Path) -> None:
    result = invoke("solve", janestreet_dir, "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["solver"] == "fast"
    assert payload["sha256"] == JANESTREET_SHA256
    cert = payload["certificate"]
    assert cert["kind"] == "zero-loss" and cert["all_rows"] == 10_000
    assert cert["final_mse_all_rows"] < 1e-10
