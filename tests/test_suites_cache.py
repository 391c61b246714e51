"""Named suites (listing, pins) and the model cache command."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from helpers.cli import assert_clean_error, invoke

from reassembly.harness.suites import Suite, get_suite, register_suite, suites

TINY = {"depth": 3, "width": 4, "hidden": 8, "rows": 60, "epochs": 1}


def test_suites_are_listed_and_fix_their_puzzles() -> None:
    result = invoke("suites")
    assert result.exit_code == 0
    for name in ("quick", "default", "families", "depth"):
        assert name in result.output and name in suites()
    families = get_suite("families")
    assert len(families.puzzles) * len(families.seeds) == 30 and families.seeds == (0, 1, 2)
    assert_clean_error(invoke("bench", "--suite", "nope"), "unknown suite 'nope'")
    assert_clean_error(
        invoke("bench", "--suite", "quick", "--depth", "4"), "--suite quick fixes its puzzles; drop --depth"
    )


def test_a_run_says_when_a_puzzle_differs_from_its_pin(tmp_path: Path) -> None:
    register_suite(Suite("t-tiny", "a test suite", (TINY,), seeds=(0,), solvers=("fast",)))
    out = tmp_path / "out"
    first = invoke("bench", "--suite", "t-tiny", "--out", out, "--cache-dir", tmp_path / "cache")
    assert first.exit_code == 0, first.output
    row = pd.read_csv(out / "results.csv").iloc[0]
    assert pd.isna(row["pinned"])  # no pin yet
    register_suite(
        Suite("t-tiny", "a test suite", (TINY,), seeds=(0,), solvers=("fast",), pins={row["puzzle"]: row["content"]})
    )
    same = invoke("bench", "--suite", "t-tiny", "--out", out, "--cache-dir", tmp_path / "cache", "--force")
    assert "differ from the ones suite" not in same.output and bool(pd.read_csv(out / "results.csv").iloc[0]["pinned"])
    register_suite(
        Suite("t-tiny", "a test suite", (TINY,), seeds=(0,), solvers=("fast",), pins={row["puzzle"]: "0" * 64})
    )
    other = invoke("bench", "--suite", "t-tiny", "--out", out, "--cache-dir", tmp_path / "cache", "--force")
    assert other.exit_code == 0 and "1 puzzle(s) differ from the ones suite 't-tiny' pins" in other.output
    assert not bool(pd.read_csv(out / "results.csv").iloc[0]["pinned"])


def test_the_cache_command_lists_sizes_and_clears_only_when_asked(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    assert (
        invoke(
            "generate",
            *sum(([f"--{k}", str(v)] for k, v in TINY.items()), []),
            "--out",
            tmp_path / "p",
            "-q",
            "--cache-dir",
            cache,
        ).exit_code
        == 0
    )
    assert "1 trained models" in invoke("cache", "size", "--cache-dir", cache).output
    listing = invoke("cache", "--cache-dir", cache).output
    assert "relu" in listing and "adam lr 0.001 1 ep" in listing
    from typer.testing import CliRunner

    from reassembly.cli import app

    declined = CliRunner().invoke(app, ["cache", "clear", "--cache-dir", str(cache)], input="n\n")
    assert declined.exit_code == 1 and list((cache / "models").iterdir())
    (cache / "real" / "minilm").mkdir(parents=True)  # fetched weights and a leftover count too
    (cache / "real" / "minilm" / "model.safetensors").write_bytes(b"w" * 2_000_000)
    (cache / "real" / ".tmp-fetch").mkdir()
    size = invoke("cache", "size", "--cache-dir", cache).output
    assert "1 trained models, 1 real networks' weights, 1 other entries" in size and "2.0 MB" in " ".join(size.split())
    assert "minilm" in invoke("cache", "--cache-dir", cache).output
    cleared = invoke("cache", "clear", "--yes", "--cache-dir", cache)
    assert cleared.exit_code == 0 and "deleted 1 trained models, 1 real networks' weights" in cleared.output
    assert not list((cache / "models").iterdir()) and not list((cache / "real").iterdir())
    assert_clean_error(invoke("cache", "shrink", "--cache-dir", cache), "unknown cache action 'shrink'")
