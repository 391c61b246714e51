"""``reassembly generate`` as a typer command (registered here the way reassembly.cli registers it)."""
from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from reassembly.answer import load_answer
from reassembly.cli_generate import generate
from reassembly.errors import ReassemblyError
from reassembly.loader import load_puzzle
from reassembly.network import mse

SMALL = ["--depth", "3", "--width", "6", "--hidden", "12", "--rows", "256", "--epochs", "2", "--batch-size", "64", "--quiet"]


def app() -> typer.Typer:
    a = typer.Typer()
    a.command("generate")(generate)

    @a.command("noop")
    def _noop() -> None:  # a second command keeps "generate" a subcommand
        pass

    return a


def test_generate_command_writes_a_loadable_puzzle(tmp_path):
    out = tmp_path / "p"
    result = CliRunner().invoke(app(), ["generate", *SMALL, "--perturb", "reparam", "--cache-dir", str(tmp_path / "c"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    puzzle, answer = load_puzzle(out), load_answer(out)
    assert puzzle.architecture.depth == 3
    assert mse(puzzle, answer.permutation) < 1e-10  # reparametrisation keeps the function
    meta = json.loads((out / "generation.json").read_text())
    assert meta["config"]["perturbations"] == "reparam" and meta["config"]["depth"] == 3


@pytest.mark.parametrize(
    "args, fragment",
    [(["--depth", "0"], "depth"), (["--hidden", "0"], "hidden"), (["--optimizer", "lion"], "optimizer"),
     (["--label-noise", "-1"], "label_noise"), (["--perturb", "noise=-0.5"], "noise")],
)
def test_generate_command_rejects_bad_options_with_config_error(tmp_path, args, fragment):
    result = CliRunner().invoke(app(), ["generate", *SMALL, *args, "--no-cache", "--out", str(tmp_path / "p")])
    assert result.exit_code != 0
    assert isinstance(result.exception, ReassemblyError) and fragment in str(result.exception)
    assert not (tmp_path / "p").exists()
