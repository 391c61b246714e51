"""Shared fixtures: small synthetic puzzles (in memory and on disk) and the real Jane Street puzzle."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers.synthetic import make_puzzle, write_puzzle

from reassembly.answer import Answer
from reassembly.errors import PuzzleError
from reassembly.janestreet import JANESTREET_ENV, find_janestreet
from reassembly.puzzle import Puzzle

# Small matrices run faster on one thread, and the CI machine may be shared.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test trains into a cache of the session, never the user's."""
    monkeypatch.setenv("REASSEMBLY_CACHE", str(tmp_path_factory.getbasetemp() / "model-cache"))


@pytest.fixture(scope="session")
def synthetic() -> tuple[Puzzle, Answer]:
    """The default synthetic puzzle (relu, depth 8, width 12, hidden 24, 300 rows) and its answer."""
    return make_puzzle()


@pytest.fixture
def puzzle_dir(tmp_path: Path) -> Path:
    """A fresh, valid synthetic puzzle directory (no answer.json) that a test may damage."""
    return write_puzzle(tmp_path / "puzzle", depth=4, width=6, rows=40)


@pytest.fixture(scope="session")
def janestreet_dir() -> Path:
    """The real puzzle directory, or skip naming where it is looked for."""
    try:
        path = find_janestreet()
    except PuzzleError as exc:
        pytest.skip(str(exc))
    if path is None:
        pytest.skip(
            f"Jane Street puzzle not found: put it at ../shared/janestreet beside the checkout "
            f"or set ${JANESTREET_ENV} to its directory"
        )
    return path


@pytest.fixture(scope="session")
def janestreet(janestreet_dir: Path) -> Puzzle:
    """The real puzzle, loaded once per session."""
    from reassembly.loader import load_puzzle

    return load_puzzle(janestreet_dir)
