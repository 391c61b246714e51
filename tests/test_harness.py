"""The bench end to end on tiny puzzles, with test solvers loaded through ``--imports``: crashes,
timeouts, garbage and cheats become honest rows without stopping the bench; resume, --force and
--retry-failed; variants kept apart; report, plots and HTML from the saved rows alone."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
from helpers.cli import invoke
from helpers.synthetic import write_puzzle

from reassembly import registry

PLUGIN = '''
import gc, glob, itertools, os, time
import multiprocessing.connection as mc
import torch
from reassembly.answer import Assembly
from reassembly.registry import register
from reassembly.solver import BaseSolver, SolveResult


def brute(puzzle):
    from reassembly.scoring import network_mse
    pools = puzzle.layout.pools
    head = (pools["last"][0],)
    best = None
    for outs in itertools.permutations(pools["out"]):
        for order in itertools.permutations(range(len(pools["inp"]))):
            a = Assembly(tuple((pools["inp"][k], outs[k]) for k in order), head)
            loss = network_mse(puzzle, a)
            if best is None or loss < best[0]:
                best = (loss, a)
    return best[1]


class BruteForce(BaseSolver):
    """Tries every pairing and order (tiny puzzles only); logs each call to $HARNESS_TEST_LOG."""

    def solve(self, puzzle):
        log = os.environ.get("HARNESS_TEST_LOG")
        if log:
            with open(log, "a") as fh:
                fh.write(puzzle.name + "\\n")
        return SolveResult(brute(puzzle))


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


class Garbage(BaseSolver):
    """Writes bytes that are no message on the result pipe, then answers."""

    def solve(self, puzzle):
        for obj in gc.get_objects():
            if isinstance(obj, mc.Connection) and obj.writable:
                obj.send_bytes(b"\\x80garbage")
        return SolveResult(brute(puzzle))


class Floaty(BaseSolver):
    """The right ids as floats, nudged: must not be truncated into a right answer."""

    def solve(self, puzzle):
        right = brute(puzzle)
        return SolveResult(Assembly.__new__(Assembly)) if False else _floats(right)


def _floats(a):
    result = SolveResult(a)
    object.__setattr__(a, "blocks", tuple(tuple(i + 0.9 for i in b) for b in a.blocks))
    return result


class Cheat(BaseSolver):
    """Looks for any answer file, patches scoring, rewrites pred and pieces, then answers in id order."""

    def solve(self, puzzle):
        import reassembly.scoring as scoring
        seen = []
        for root in {os.path.dirname(os.path.abspath(os.getcwd())), os.path.abspath(os.path.join(puzzle.name, "..")), os.getcwd()}:
            seen += glob.glob(os.path.join(root, "**", "*answer*"), recursive=True)
        with open(os.environ["HARNESS_CHEAT_LOG"], "a") as fh:
            fh.write(repr(seen) + "\\n")
        scoring.score = lambda *a, **k: None
        scoring.network_mse = lambda *a, **k: 0.0
        right = brute(puzzle)
        guess = Assembly(tuple(reversed(right.blocks)), right.head)  # a wrong answer it makes look perfect
        puzzle.pred = scoring.outputs(puzzle, guess)
        for p in puzzle.pieces:
            p.weight.zero_()
        for f in glob.glob(os.path.join(os.getcwd(), "..", "puzzle", "pieces", "*.pth")):
            torch.save({"weight": torch.zeros(1, 1), "bias": torch.zeros(1)}, f)
        return SolveResult(guess)


class Spawner(BaseSolver):
    """Starts a long-lived child, records both pids, then sleeps."""

    def solve(self, puzzle):
        import subprocess, sys
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        with open(os.environ["HARNESS_PID_LOG"], "w") as fh:
            fh.write(f"{os.getpid()} {child.pid}\\n")
        time.sleep(300)


register("t-brute", BruteForce)
register("t-crash", Crash)
register("t-die", Crash, hard=True)
register("t-sleep", Sleep)
register("t-garbage", Garbage)
register("t-floaty", Floaty)
register("t-cheat", Cheat)
register("t-spawner", Spawner)
'''
TEST_SOLVERS = ("t-brute", "t-crash", "t-die", "t-sleep", "t-garbage", "t-floaty", "t-cheat", "t-spawner")


@pytest.fixture
def plugin(tmp_path: Path):
    """A solver plugin file for ``--imports``; its registrations are undone afterwards."""
    path = tmp_path / "harness_test_plugin.py"
    path.write_text(PLUGIN)
    yield path
    for name in TEST_SOLVERS:
        registry.unregister(name)
    sys.modules.pop("harness_test_plugin", None)


def puzzles(root: Path, n: int) -> list[Path]:
    return [write_puzzle(root / f"p{k}", with_answer=True, depth=3, width=4, rows=30, seed=k) for k in range(n)]


def bench(out: Path, plugin: Path, dirs: list[Path], *solvers: str, extra: tuple = (), env: dict | None = None):
    args: list[object] = ["bench", "--seeds", "0", "--out", out, "--imports", plugin, "--jobs", "2", *extra]
    for d in dirs:
        args += ["--puzzle", d]
    for s in solvers:
        args += ["--solver", s]
    from typer.testing import CliRunner

    from reassembly.cli import app

    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200", **(env or {})})


def results(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "results.csv")


def test_crash_timeout_garbage_and_bad_answers_are_rows_and_the_bench_goes_on(tmp_path, plugin) -> None:
    out = tmp_path / "out"
    (p,) = puzzles(tmp_path, 1)
    result = bench(
        out, plugin, [p], "t-brute", "t-crash", "t-die", "t-sleep", "t-garbage", "t-floaty", extra=("--timeout", "2")
    )
    assert result.exit_code == 0, result.output
    df = results(out).set_index("solver")
    assert (
        df.loc["t-crash", "status"] == "error"
        and "RuntimeError: boom from the crash solver" in df.loc["t-crash", "error"]
    )
    assert (
        df.loc["t-die", "status"] == "error"
        and "worker died without an answer (exit code 3)" in df.loc["t-die", "error"]
    )
    assert df.loc["t-sleep", "status"] == "timeout" and 2.0 <= df.loc["t-sleep", "seconds"] < 60
    assert df.loc["t-garbage", "status"] == "error" and "malformed message" in df.loc["t-garbage", "error"]
    assert df.loc["t-floaty", "status"] == "error" and "not an integer piece id" in df.loc["t-floaty", "error"]
    brute = df.loc["t-brute"]
    assert brute.status == "ok" and bool(brute.exact) and brute.grouping_accuracy == 1.0 and brute.kendall_tau == 1.0
    assert brute.mse < 1e-20 and (brute.depth, brute.d, brute.h) == (3, 4, 8) and brute.family == "relu"
    assert {"env.torch", "env.cpu", "env.git_commit", "torch_threads", "key", "variant", "true_mse", "trace"} <= set(
        df.columns
    )
    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert sorted(r["status"] for r in lines) == ["error"] * 4 + ["ok", "timeout"]
    for text in ("t-brute", "t-crash", "t-sleep", "1 error", "1 timeout", "1/1"):
        assert text in result.output
    # The answer was kept apart from what the solver got: OUT/answers, never OUT/puzzles.
    assert (out / "answers").is_dir() and not list((out / "puzzles").rglob("answer*"))

    shown = invoke("report", out, "--plot", tmp_path / "plot.png", "--html", tmp_path / "report.html")
    assert shown.exit_code == 0, shown.output
    for text in ("t-brute", "t-die", "1 error", "1 timeout", "6 runs", "Runs without a scored answer (5)"):
        assert text in shown.output
    for png in (tmp_path / "plot.png", tmp_path / "plot-profiles.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    page = (tmp_path / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2 and "t-garbage" in page and "malformed message" in page


def test_a_cheating_solver_is_scored_on_what_it_returned(tmp_path, plugin) -> None:
    out, log = tmp_path / "out", tmp_path / "cheat.log"
    dirs = puzzles(tmp_path, 2)
    result = bench(out, plugin, dirs, "t-cheat", "t-brute", env={"HARNESS_CHEAT_LOG": str(log)})
    assert result.exit_code == 0, result.output
    assert all(line == "[]" for line in log.read_text().splitlines())  # no answer within its reach
    df = results(out).set_index(["puzzle", "solver"]).sort_index()
    for p in df.index.get_level_values(0).unique():
        cheat, honest = df.loc[(p, "t-cheat")], df.loc[(p, "t-brute")]
        assert cheat.status == "ok" and not bool(cheat.exact) and cheat.mse > 1e-6  # pred, pieces, scoring untouched
        assert honest.status == "ok" and bool(honest.exact)  # the next solver saw the puzzle as it was


def test_resume_force_and_retry_failed(tmp_path, plugin) -> None:
    out, log = tmp_path / "out", tmp_path / "calls.log"
    env = {"HARNESS_TEST_LOG": str(log)}
    dirs = puzzles(tmp_path, 2)

    def calls() -> int:
        return len(log.read_text().splitlines()) if log.exists() else 0

    assert bench(out, plugin, dirs[:1], "t-brute", env=env).exit_code == 0 and calls() == 1
    again = bench(out, plugin, dirs[:1], "t-brute", env=env)
    assert again.exit_code == 0 and calls() == 1
    assert "1 already in" in again.output and "1/1" in again.output
    assert bench(out, plugin, dirs, "t-brute", env=env).exit_code == 0 and calls() == 2  # only the new puzzle
    assert bench(out, plugin, dirs, "t-brute", extra=("--force",), env=env).exit_code == 0 and calls() == 4
    df = results(out)
    assert len(df) == 2 and df["exact"].all() and df["key"].is_unique
    assert len((out / "results.jsonl").read_text().splitlines()) == 2  # --force replaced the rows
    assert len(pd.read_json(out / "results.jsonl", lines=True)) == 2
    bench(out, plugin, dirs[:1], "t-crash")
    bench(out, plugin, dirs[:1], "t-crash")  # an error row counts as done ...
    assert (results(out)["status"] == "error").sum() == 1
    retried = bench(out, plugin, dirs[:1], "t-crash", extra=("--retry-failed",))
    assert "0 already in" not in retried.output and (results(out)["status"] == "error").sum() == 1  # ... until retried


def test_variants_are_kept_apart_and_grids_expand(tmp_path) -> None:
    out = tmp_path / "out"
    (p,) = puzzles(tmp_path, 1)
    args = [
        "bench",
        "--seeds",
        "0",
        "--puzzle",
        p,
        "--out",
        out,
        "--jobs",
        "2",
        "-s",
        "fast[search__kick_moves=[2,4]]",
        "-s",
        "paper",
        "-s",
        "fast[search__kick_moves=4]",
    ]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    df = results(out)
    assert sorted(df["variant"]) == ["fast[search__kick_moves=2]", "fast[search__kick_moves=4]", "paper"]
    shown = invoke("report", out)
    assert shown.output.count("fast[search__kick_moves=") == 2


def test_narrow_terminals_still_show_every_failed_run(tmp_path, plugin) -> None:
    out = tmp_path / "out"
    (p,) = puzzles(tmp_path, 1)
    assert bench(out, plugin, [p], "t-brute", "t-crash", "t-die").exit_code == 0
    from typer.testing import CliRunner

    from reassembly.cli import app

    narrow = CliRunner().invoke(app, ["report", str(out)], env={"COLUMNS": "80"})
    assert narrow.exit_code == 0
    assert all(len(line) <= 80 for line in narrow.output.splitlines())
    for text in ("t-crash", "t-die", "error", "failed", "boom from the crash solver"):
        assert text in narrow.output, text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report", "{tmp}/nowhere"], "results directory not found"),
        (["report", "{tmp}"], "no results.jsonl or results.csv"),
        (["bench", "--seeds", "0", "--solver", "no-such-solver"], "unknown solver 'no-such-solver'"),
        (
            ["bench", "--seeds", "0", "--janestreet", "{tmp}/missing", "--out", "{tmp}/o"],
            "--janestreet {tmp}/missing: directory not found",
        ),
        (["bench", "--seeds", "0", "--out", "{tmp}/o"], "nothing to run"),
        (["bench", "--timeout", "0"], "--timeout must be a positive number"),
        (["bench", "--jobs", "0"], "--jobs must be >= 1"),
        (["bench", "--imports", "{tmp}/absent.py"], "--imports {tmp}/absent.py: file not found"),
        (["bench", "--seeds", "0", "--out", "{tmp}/file"], "exists and is not a directory"),
        (["bench", "--seeds", "0", "--out", "{tmp}/theirs"], "holds a results.csv that this harness did not write"),
        (["bench", "-s", "paper", "-o", "rows=-5", "--seeds", "0"], "option rows: must be [2, inf]"),
    ],
)
def test_bad_input_is_a_clean_error(tmp_path, args, message) -> None:
    (tmp_path / "file").write_text("x")
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "results.csv").write_text("precious")
    result = invoke(*[a.format(tmp=tmp_path) if isinstance(a, str) else a for a in args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert message.format(tmp=tmp_path) in result.output.replace("\n", "")
    assert (tmp_path / "theirs" / "results.csv").read_text() == "precious"


def test_hash_only_answers_score_exactness(tmp_path, plugin) -> None:
    """As for the Jane Street puzzle: no answer.json, only the published hash of the answer."""
    from helpers.synthetic import make_puzzle

    from reassembly.answer import Answer
    from reassembly.harness.plan import directory_entry
    from reassembly.harness.puzzles import store_directory

    d = write_puzzle(tmp_path / "js", depth=3, width=4, rows=30, seed=5)  # no answer.json
    _, answer = make_puzzle(depth=3, width=4, rows=30, seed=5)
    out = tmp_path / "out"
    entry = directory_entry(d, out)
    store_directory(d, out, entry.id, Answer(sha256=answer.sha256))  # only the hash is known
    result = bench(out, plugin, [d], "t-brute")
    assert result.exit_code == 0, result.output
    row = results(out).iloc[0]
    assert bool(row.exact) and row.grouping_accuracy == 1.0  # known only because the hash matched


def test_the_issue_command_shows_three_variants_in_table_and_plots(tmp_path) -> None:
    """``reassembly bench -s "fast[max_shift=[2,3]]" -s paper --depth 8 --seeds 2`` then ``report``."""
    out = tmp_path / "out"
    result = invoke("bench", "-s", "fast[max_shift=[2,3]]", "-s", "paper", "--depth", "8", "--seeds", "2", "--out", out)
    assert result.exit_code == 0, result.output
    df = results(out)
    assert sorted(df["variant"].unique()) == ["fast[max_shift=2]", "fast[max_shift=3]", "paper"]
    assert set(df["params.descent__max_shift"].dropna()) == {2, 3} and len(df) == 6
    shown = invoke("report", out, "--plot", tmp_path / "p.png")
    for label in ("fast[max_shift=2]", "fast[max_shift=3]", "paper"):
        assert label in shown.output
    from reassembly.harness.plots import overview
    from reassembly.harness.results import load_results

    legend = [
        t.get_text()
        for ax in overview(load_results(out)).axes
        for lg in [ax.get_legend()]
        if lg
        for t in lg.get_texts()
    ]
    assert {"fast[max_shift=2]", "fast[max_shift=3]", "paper"} <= set(legend)
