"""The real Jane Street puzzle: layout, and each built-in solver's exact answer via the CLI.

Skipped (with the reason) where the puzzle is absent: see ``janestreet_dir`` in conftest.py.
One full solve per solver; the ``paper`` solve runs with ``--json`` and feeds the JSON and
``verify`` checks too.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from helpers.cli import invoke

from reassembly.janestreet import JANESTREET_SHA256

pytestmark = pytest.mark.janestreet


@pytest.fixture(scope="module")
def paper_json(janestreet_dir: Path) -> dict:
    """``reassembly solve DIR --solver paper --json``, run once."""
    result = invoke("solve", janestreet_dir, "--solver", "paper", "--json", "--threads", "2")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_layout(janestreet) -> None:
    layout = janestreet.layout
    assert janestreet.family.name == "relu" and layout.sizes == {"d": 48, "h": 96, "o": 1} and layout.depth == 48
    assert layout.pools["last"] == (85,)
    assert len(layout.pools["inp"]) == len(layout.pools["out"]) == 48
    assert janestreet.n_rows == 10_000 and janestreet.true is not None


def test_paper_solver_json(paper_json: dict) -> None:
    assert paper_json["solver"] == "paper"
    ids = [int(i) for i in paper_json["answer"].split(",")]
    assert len(ids) == 97 and sorted(ids) == list(range(97))
    assert paper_json["sha256"] == hashlib.sha256(paper_json["answer"].encode()).hexdigest() == JANESTREET_SHA256
    assert paper_json["mse"] < 1e-10 and paper_json["seconds"] > 0
    stages = {s["stage"]: s for s in paper_json["stages"]}
    assert list(stages) == ["pairing", "seed", "ranking", "repair"]
    assert stages["pairing"]["details"]["gap"] > 1.0  # the paper reports 1.18
    assert stages["seed"]["mse"] > stages["repair"]["mse"]
    assert stages["ranking"]["evaluations"] >= 48 * 47 // 2


@pytest.mark.parametrize("solver", ["paper-hillclimb", "cosine"])
def test_solver_line(janestreet_dir: Path, solver: str) -> None:
    result = invoke("solve", janestreet_dir, "--solver", solver, "--threads", "2")
    assert result.exit_code == 0, result.output
    line = result.output.strip()
    assert re.fullmatch(r"\d+(,\d+)*", line), line
    assert hashlib.sha256(line.encode()).hexdigest() == JANESTREET_SHA256


def test_verify_says_it_matches_the_published_hash(janestreet_dir: Path, paper_json: dict) -> None:
    result = invoke("verify", janestreet_dir, paper_json["answer"])
    assert result.exit_code == 0, result.output
    mse_line, sha_line, verdict = result.output.strip().splitlines()
    assert sha_line == f"sha256 {JANESTREET_SHA256}" and verdict == "matches the published Jane Street SHA-256"
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


def test_an_unset_or_wrong_environment_variable_is_said_not_silently_ignored(monkeypatch, tmp_path) -> None:
    from reassembly.errors import PuzzleError
    from reassembly.janestreet import JANESTREET_ENV, find_janestreet

    monkeypatch.setenv(JANESTREET_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(PuzzleError, match=f"{JANESTREET_ENV}=.*nowhere: not a puzzle directory"):
        find_janestreet()
