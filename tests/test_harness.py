"""The bench harness end to end on tiny puzzles, with test solvers loaded through ``--imports``:
crashes and timeouts are recorded without stopping the bench, resume skips finished rows, and
``report`` rebuilds the table and a plot from the saved rows alone."""
from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from helpers.synthetic import write_puzzle
from reassembly import registry
from reassembly.cli import friendly
from reassembly.cli_bench import bench, report

PLUGIN = '''
import itertools, os, time
from reassembly.network import mse
from reassembly.registry import register
from reassembly.solver import BaseSolver, SolveResult


class BruteForce(BaseSolver):
    """Tries every pairing and order (tiny puzzles only); logs each call to $HARNESS_TEST_LOG."""

    def solve(self, puzzle):
        log = os.environ.get("HARNESS_TEST_LOG")
        if log:
            with open(log, "a") as fh:
                fh.write(puzzle.name + "\\n")
        r = puzzle.roles
        best = None
        for outs in itertools.permutations(r.outputs):
            for order in itertools.permutations(range(len(r.inputs))):
                p = [i for k in order for i in (r.inputs[k], outs[k])] + [r.last]
                loss = mse(puzzle, p)
                if best is None or loss < best[0]:
                    best = (loss, p)
        return SolveResult(best[1])


class Crash(BaseSolver):
    def __init__(self, hard: bool = False):
        self.hard = hard

    def solve(self, puzzle):
        if self.hard:
            os._exit(3)
        raise RuntimeError("boom from the crash solver")


class Sleep(BaseSolver):
    def solve(self, puzzle):
        time.sleep(120)


register("t-brute", BruteForce)
register("t-crash", Crash)
register("t-die", Crash, hard=True)
register("t-sleep", Sleep)
'''
TEST_SOLVERS = ("t-brute", "t-crash", "t-die", "t-sleep")


@pytest.fixture
def plugin(tmp_path: Path):
    """A solver plugin file for ``--imports``; its registrations are undone afterwards."""
    path = tmp_path / "harness_test_plugin.py"
    path.write_text(PLUGIN)
    yield path
    for name in TEST_SOLVERS:
        registry.unregister(name)
    for mod in [m for m in sys.modules if m.startswith("reassembly_plugin_harness_test_plugin")]:
        del sys.modules[mod]


@pytest.fixture
def cli():
    app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    app.command("bench")(friendly(bench))
    app.command("report")(friendly(report))
    runner = CliRunner()

    def invoke(*args: object, env: dict | None = None):
        return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200", **(env or {})})

    return invoke


def puzzles(root: Path, n: int) -> list[Path]:
    return [write_puzzle(root / f"p{k}", with_answer=True, depth=3, width=4, rows=30, seed=k) for k in range(n)]


def bench_args(out: Path, plugin: Path, dirs: list[Path], *solvers: str) -> list[object]:
    args: list[object] = ["bench", "--seeds", "0", "--out", out, "--imports", plugin, "--jobs", "2"]
    for d in dirs:
        args += ["--puzzle", d]
    for s in solvers:
        args += ["--solver", s]
    return args


def results(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "results.csv")


def test_crash_and_timeout_are_recorded_and_the_bench_goes_on(tmp_path, plugin, cli) -> None:
    out = tmp_path / "out"
    (p,) = puzzles(tmp_path, 1)
    result = cli(*bench_args(out, plugin, [p], *TEST_SOLVERS), "--timeout", "2")
    assert result.exit_code == 0, result.output
    df = results(out).set_index("solver")
    assert df.loc["t-crash", "status"] == "error"
    assert "RuntimeError: boom from the crash solver" in df.loc["t-crash", "error"]
    assert df.loc["t-die", "status"] == "error"
    assert "worker died without an answer (exit code 3)" in df.loc["t-die", "error"]
    assert df.loc["t-sleep", "status"] == "timeout"
    assert 2.0 <= df.loc["t-sleep", "seconds"] < 60
    brute = df.loc["t-brute"]
    assert brute.status == "ok" and bool(brute.exact) and brute.pairing_accuracy == 1.0 and brute.kendall_tau == 1.0
    assert brute.mse < 1e-20 and (brute.depth, brute.width, brute.hidden) == (3, 4, 8)
    # Configuration and environment travel with every row; the JSON lines hold the same rows.
    assert {"params.hard", "env.torch", "env.cpu", "env.git_commit", "torch_threads", "key"} <= set(df.columns)
    assert bool(df.loc["t-die", "params.hard"]) and not bool(df.loc["t-crash", "params.hard"])
    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert sorted(r["status"] for r in lines) == ["error", "error", "ok", "timeout"]
    # The table names every solver with its failures.
    for text in ("t-brute", "t-crash", "t-sleep", "1 error", "1 timeout", "1/1"):
        assert text in result.output

    # `report` rebuilds the same table from the saved rows alone, and a plot.
    png = tmp_path / "plot.png"
    shown = cli("report", out, "--plot", png)
    assert shown.exit_code == 0, shown.output
    for text in ("t-brute", "t-die", "1 error", "1 timeout", "4 runs"):
        assert text in shown.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_resume_skips_finished_rows(tmp_path, plugin, cli) -> None:
    out, log = tmp_path / "out", tmp_path / "calls.log"
    env = {"HARNESS_TEST_LOG": str(log)}
    dirs = puzzles(tmp_path, 2)

    def calls() -> int:
        return len(log.read_text().splitlines()) if log.exists() else 0

    assert cli(*bench_args(out, plugin, dirs[:1], "t-brute"), env=env).exit_code == 0
    assert calls() == 1
    again = cli(*bench_args(out, plugin, dirs[:1], "t-brute"), env=env)
    assert again.exit_code == 0 and calls() == 1
    assert "1 already in" in again.output and "1/1" in again.output  # the table still shows the row
    assert cli(*bench_args(out, plugin, dirs, "t-brute"), env=env).exit_code == 0
    assert calls() == 2  # only the new puzzle ran
    assert cli(*bench_args(out, plugin, dirs, "t-brute"), "--force", env=env).exit_code == 0
    assert calls() == 4
    df = results(out)
    assert len(df) == 2 and df["exact"].all() and df["key"].is_unique
    assert len((out / "results.jsonl").read_text().splitlines()) == 4  # the log keeps every run; the last wins


def test_plot_against_depth(tmp_path) -> None:
    from reassembly.harness.report import plot

    rows = [{"suite": f"d{d}", "kind": "synthetic", "depth": d, "solver": s, "status": st,
             "exact": st == "ok" and d < 32, "seconds": d / 10 * (1 + k), "order_exact": None}
            for d in (16, 32, 48) for k, s in enumerate(("paper", "cosine")) for st in ("ok", "ok", "timeout")]
    rows.append({"suite": "janestreet", "kind": "janestreet", "depth": 48, "solver": "paper", "status": "ok",
                 "exact": True, "seconds": 5.0, "order_exact": True})
    path = plot(pd.DataFrame(rows), tmp_path / "depth.png")
    assert path.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(("args", "message"), [
    (["report", "{tmp}/nowhere"], "results directory not found"),
    (["report", "{tmp}"], "no results.jsonl or results.csv"),
    (["bench", "--seeds", "0", "--solver", "no-such-solver"], "unknown solver 'no-such-solver'"),
    (["bench", "--seeds", "0", "--janestreet", "{tmp}/missing"], "--janestreet {tmp}/missing: directory not found"),
    (["bench", "--seeds", "0"], "nothing to run"),
    (["bench", "--timeout", "0"], "--timeout must be a positive number"),
    (["bench", "--jobs", "0"], "--jobs must be >= 1"),
    (["bench", "--imports", "{tmp}/absent.py"], "--imports {tmp}/absent.py: file not found"),
])
def test_bad_input_is_a_clean_error(tmp_path, cli, args, message) -> None:
    result = cli(*[a.format(tmp=tmp_path) for a in args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert message.format(tmp=tmp_path) in result.output.replace("\n", "")


def test_hash_only_answer_scores_exactness(tmp_path, plugin) -> None:
    """As for the Jane Street puzzle: no answer.json, only the published hash of the answer."""
    from helpers.synthetic import make_puzzle
    from reassembly.harness.plan import SolverEntry, janestreet_entry, plan_runs
    from reassembly.harness.runner import RunOptions, run_isolated
    from reassembly.janestreet import JANESTREET_SHA256

    d = write_puzzle(tmp_path / "js", depth=3, width=4, rows=30, seed=5)  # no answer.json
    entry = janestreet_entry(d)
    assert (entry.kind, entry.answer_sha256, entry.id) == ("janestreet", JANESTREET_SHA256, "janestreet")
    _, answer = make_puzzle(depth=3, width=4, rows=30, seed=5)
    (run,) = plan_runs([replace(entry, answer_sha256=answer.sha256)], [SolverEntry("t-brute", {}, {})])
    outcome = run_isolated(run, RunOptions(timeout=60, imports=(str(plugin),), threads=1))
    assert outcome.status == "ok", outcome.error
    assert outcome.fields["exact"] is True and outcome.fields["sha256"] == answer.sha256
    assert outcome.fields["pairing_accuracy"] == 1.0  # known only because the hash matched
