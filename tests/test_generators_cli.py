"""``reassembly generate`` on the command line: options from the one generator table, and errors."""

from __future__ import annotations

import json

import pytest
from helpers.cli import assert_clean_error, invoke

from reassembly.answer import load_answer
from reassembly.loader import load_puzzle
from reassembly.scoring import network_mse

SMALL = [
    "--depth",
    "3",
    "--width",
    "6",
    "--hidden",
    "12",
    "--rows",
    "256",
    "--epochs",
    "2",
    "--batch-size",
    "64",
    "--quiet",
]


def test_generate_command_writes_a_loadable_puzzle(tmp_path):
    out = tmp_path / "p"
    result = invoke(
        "generate", *SMALL, "--block", "swiglu", "--perturb", "reparam", "--cache-dir", tmp_path / "c", "--out", out
    )
    assert result.exit_code == 0, result.output
    assert "model trained in" in result.output and "from trained" not in result.output
    puzzle, answer = load_puzzle(out), load_answer(out)
    assert puzzle.depth == 3 and puzzle.family.name == "swiglu"
    assert network_mse(puzzle, answer.assembly(puzzle.layout)) < 1e-10  # reparametrisation keeps the function
    meta = json.loads((out / "generation.json").read_text())
    assert meta["config"]["perturbations"] == "reparam" and meta["config"]["depth"] == 3
    assert set(meta) == {"config", "loss_curve"}  # no facts of this run (cache hit, seconds) in a puzzle's files


def test_bench_offers_every_generator_option():
    import re

    def options(command: str) -> set[str]:
        return set(re.findall(r"--[a-z][a-z-]+", invoke(command, "--help").output))

    generate, bench = options("generate"), options("bench")
    own = {"--out", "--force", "--cache-dir", "--no-cache", "--quiet", "--seed"}
    own |= {
        "--from",
        "--length",
        "--layers",
    }  # pose a real network (bench takes its puzzle by --puzzle DIR or --suite real)
    assert {"--init", "--inputs", "--momentum", "--block"} <= generate
    assert generate - own <= bench, sorted(generate - own - bench)


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--depth", "0"], "depth"),
        (["--hidden", "0"], "hidden"),
        (["--optimizer", "lion"], "optimizer"),
        (["--label-noise", "-1"], "label_noise"),
        (["--perturb", "noise=-0.5"], "noise"),
        (["--block", "transformer"], "unknown block family"),
    ],
)
def test_generate_command_rejects_bad_options_with_a_clean_error(tmp_path, args, fragment):
    assert_clean_error(invoke("generate", *SMALL, *args, "--no-cache", "--out", tmp_path / "p"), fragment)
    assert not (tmp_path / "p").exists()
