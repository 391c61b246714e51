"""Hostile inputs, one case per class: forged claims and pickles, tampered files, escaping processes,
stalled or flooded pipes, hostile field types (a row each, the bench goes on), then corrupt files
and odd options (a one-line error, exit 2). Every bench case runs under a deadline and checks
through ``/proc`` that nothing it started is left running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.synthetic import write_puzzle
from helpers.tasks import write_query_puzzle

from reassembly import registry

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads process states from /proc (Linux)")

PLUGIN = r'''
import gc, itertools, json, os, pickle, time
import multiprocessing.connection as mc
from reassembly.answer import Assembly
from reassembly.registry import register
from reassembly.solver import BaseSolver, SolveResult


def brute(puzzle):
    from reassembly.scoring import network_mse
    pools = puzzle.layout.pools
    best = None
    for outs in itertools.permutations(pools["out"]):
        for order in itertools.permutations(range(len(pools["inp"]))):
            a = Assembly(tuple((pools["inp"][k], outs[k]) for k in order), (pools["last"][0],))
            loss = network_mse(puzzle, a)
            if best is None or loss < best[0]:
                best = (loss, a)
    return best[1]


def wrong(puzzle):
    right = brute(puzzle)
    return Assembly(tuple(reversed(right.blocks)), right.head)


def result_fd():
    for obj in gc.get_objects():
        if isinstance(obj, mc.Connection) and obj.writable:
            return obj.fileno()


def say(line):
    data = line if isinstance(line, bytes) else line.encode()
    fd = result_fd()
    while data:
        data = data[os.write(fd, data):]


def log(text):
    with open(os.environ["HOSTILE_LOG"], "a") as fh:
        fh.write(text + "\n")


class Forger(BaseSolver):
    """Right answer, after 1.2 s, in a message of its own that claims 1 ms and forged facts."""

    def solve(self, puzzle):
        a = brute(puzzle)
        time.sleep(1.2)
        say(json.dumps(["solved", {"seconds": 0.001, "blocks": [list(b) for b in a.blocks], "head": list(a.head),
                                   "family": "forged-family", "depth": 9999, "rows": 1, "torch_threads": 77, "d": 1}]) + "\n")
        os._exit(0)


class Liar(BaseSolver):
    """A wrong answer that says it is exact, with zero error."""

    def solve(self, puzzle):
        a = wrong(puzzle)
        say(json.dumps(["solved", {"blocks": [list(b) for b in a.blocks], "head": list(a.head), "exact": True, "mse": 0.0,
                                   "grouping_accuracy": 1.0, "failure": None}]) + "\n")
        os._exit(0)


class Evil:
    def __reduce__(self):
        return (open, (os.environ["HOSTILE_MARK"], "w"))


class Pickler(BaseSolver):
    """Sends a pickle whose unpickling would write a file, framed as multiprocessing would."""

    def solve(self, puzzle):
        for obj in gc.get_objects():
            if isinstance(obj, mc.Connection) and obj.writable:
                obj.send(("solved", {"blocks": Evil()}))
        time.sleep(30)


class Ready(BaseSolver):
    """Says "ready" again and again, hoping to restart the solve's timer."""

    def solve(self, puzzle):
        while True:
            say('["ready",{}]\n')
            time.sleep(0.2)


class Partial(BaseSolver):
    """Half a message, then silence."""

    def solve(self, puzzle):
        say('["solved",{"blocks":[[0,')
        time.sleep(60)


class Flood(BaseSolver):
    """An endless message."""

    def solve(self, puzzle):
        chunk = b"[" + b"1," * (1 << 16)
        while True:
            say(chunk)


class TextSeconds(BaseSolver):
    def solve(self, puzzle):
        a = brute(puzzle)
        say(json.dumps(["solved", {"seconds": "fast", "blocks": [list(b) for b in a.blocks], "head": list(a.head)}]) + "\n")
        os._exit(0)


class TraceObject(BaseSolver):
    def solve(self, puzzle):
        a = brute(puzzle)
        say(json.dumps(["solved", {"trace": [{"stage": {"nested": [1]}}], "blocks": [list(b) for b in a.blocks],
                                   "head": list(a.head)}]) + "\n")
        os._exit(0)


class SetCertificate(BaseSolver):
    def solve(self, puzzle):
        return SolveResult(brute(puzzle), certificate={"kind": "zero-loss", "ids": {1, 2}})


class DeepCertificate(BaseSolver):
    def solve(self, puzzle):
        deep = []
        for _ in range(5000):
            deep = [deep]
        return SolveResult(brute(puzzle), certificate={"kind": "x", "deep": deep})


class DeepLine(BaseSolver):
    def solve(self, puzzle):
        say('["solved",{"certificate":' + "[" * 5000 + "]" * 5000 + "}]\n")
        os._exit(0)


class StringBlocks(BaseSolver):
    def solve(self, puzzle):
        say('["solved",{"blocks":"abc","head":7}]\n')
        os._exit(0)


class Tamper(BaseSolver):
    """Tries to write its own copy, then rewrites the stored puzzle and answer, and answers wrongly."""

    def solve(self, puzzle):
        import glob, torch
        mine = glob.glob(os.path.join(os.getcwd(), "..", "puzzle", "pieces", "*.pth"))
        log(f"own copy mode {os.stat(mine[0]).st_mode & 0o777:o}")  # root would write it anyway
        a = wrong(puzzle)
        out = os.environ["HOSTILE_OUT"]
        for f in glob.glob(os.path.join(out, "puzzles", "*", "pieces", "*.pth")):
            os.chmod(f, 0o644)
            torch.save({"weight": torch.zeros(1, 1), "bias": torch.zeros(1)}, f)
        for f in glob.glob(os.path.join(out, "answers", "*.json")):
            with open(f, "w") as fh:
                json.dump({"blocks": [list(b) for b in a.blocks], "head": list(a.head)}, fh)
        return SolveResult(a)


class Daemon(BaseSolver):
    """Starts a daemon (double fork, setsid, its own group), then answers; with ``leave``, its
    process exits at once after starting one, so the daemon is orphaned twice over."""

    def __init__(self, leave: bool = False):
        self.leave = leave

    def solve(self, puzzle):
        a = brute(puzzle)
        r, w = os.pipe()
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.setpgid(0, 0)
                os.write(w, f"{os.getpid()}\n".encode())
                time.sleep(300)
                os._exit(0)
            os._exit(0)
        os.close(w)
        log("daemon " + os.read(r, 100).decode().strip())
        if self.leave:
            os._exit(0)
        return SolveResult(a)


class Brute(BaseSolver):
    def solve(self, puzzle):
        return SolveResult(brute(puzzle))


for name, cls in [("h-forger", Forger), ("h-liar", Liar), ("h-pickler", Pickler), ("h-ready", Ready),
                  ("h-partial", Partial), ("h-flood", Flood), ("h-text-seconds", TextSeconds),
                  ("h-trace-object", TraceObject), ("h-set-certificate", SetCertificate),
                  ("h-deep-certificate", DeepCertificate), ("h-deep-line", DeepLine), ("h-string-blocks", StringBlocks),
                  ("h-tamper", Tamper), ("h-daemon", Daemon), ("h-brute", Brute)]:
    register(name, cls)
register("h-escape", Daemon, leave=True)


class Deaf(BaseSolver):
    """Asks the oracle without ever reading its replies, then waits."""

    def solve(self, problem):
        import numpy as np
        from reassembly.harness import wire
        X = problem.X[:200].numpy()
        for _ in range(200):
            say(wire.encode("query", {"X": wire.encode_array(X)}))
        time.sleep(60)


class Huge(BaseSolver):
    """Asks with values no network should be given, then answers."""

    def solve(self, problem):
        import torch
        from reassembly.query.oracle import OracleError
        try:
            problem.oracle.query(torch.full((2, problem.X.shape[1]), 1e308, dtype=torch.float64))
        except OracleError as exc:
            log("refused " + str(exc))
        from reassembly.registry import get_solver
        return get_solver("query-random", queries=8).solve(problem)


register("h-deaf", Deaf, task="query")
register("h-huge", Huge, task="query")
'''
NAMES = (
    "h-forger",
    "h-liar",
    "h-pickler",
    "h-ready",
    "h-partial",
    "h-flood",
    "h-text-seconds",
    "h-trace-object",
    "h-set-certificate",
    "h-deep-certificate",
    "h-deep-line",
    "h-string-blocks",
    "h-tamper",
    "h-daemon",
    "h-brute",
    "h-escape",
    "h-deaf",
    "h-huge",
)
DEADLINE = 90  # seconds any one bench below may take


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def hostile(tmp_path: Path, monkeypatch):
    plugin = tmp_path / "hostile_plugin.py"
    plugin.write_text(PLUGIN)
    log, mark = tmp_path / "log", tmp_path / "unpickled"
    monkeypatch.setenv("HOSTILE_LOG", str(log))
    monkeypatch.setenv("HOSTILE_MARK", str(mark))
    monkeypatch.setenv("HOSTILE_OUT", str(tmp_path / "out"))
    yield plugin, log, mark
    for name in NAMES:
        registry.unregister(name)
    sys.modules.pop("hostile_plugin", None)


def bench(*args: object, timeout: float = DEADLINE) -> subprocess.CompletedProcess:
    """``reassembly bench ARGS`` in a process of its own, under a deadline."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "reassembly", "bench", *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def rows(out: Path) -> dict[str, dict]:
    return {r["solver"]: r for r in map(json.loads, (out / "results.jsonl").read_text().splitlines())}


def test_forged_claims_pickles_and_hostile_types_are_rows_and_the_bench_goes_on(tmp_path, hostile) -> None:
    plugin, log, mark = hostile
    puzzle = write_puzzle(tmp_path / "p", with_answer=True, depth=3, width=4, rows=30)
    solvers = [
        "h-forger",
        "h-liar",
        "h-pickler",
        "h-ready",
        "h-partial",
        "h-flood",
        "h-text-seconds",
        "h-trace-object",
        "h-set-certificate",
        "h-deep-certificate",
        "h-deep-line",
        "h-string-blocks",
        "h-daemon",
        "h-escape",
        "h-brute",
    ]
    out = tmp_path / "out"
    t0 = time.monotonic()
    done = bench(
        "--seeds",
        "0",
        "--puzzle",
        puzzle,
        "--out",
        out,
        "--imports",
        plugin,
        "--jobs",
        "2",
        "--timeout",
        "2",
        "--threads",
        "1",
        *[a for s in solvers for a in ("-s", s)],
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert time.monotonic() - t0 < DEADLINE
    got = rows(out)
    assert set(got) == set(solvers)  # nothing lost
    forger = got["h-forger"]  # scored on its answer, timed by the referee, facts from the puzzle
    assert forger["status"] == "ok" and forger["exact"] and forger["claimed_seconds"] == 0.001
    assert forger["seconds"] >= 1.2 and forger["wall_seconds"] >= forger["seconds"]
    assert (forger["family"], forger["depth"], forger["rows"], forger["d"], forger["torch_threads"]) == (
        "relu",
        3,
        30,
        4,
        1,
    )
    liar = got["h-liar"]
    assert liar["status"] == "ok" and liar["exact"] is False and liar["mse"] > 0 and liar["kendall_tau"] < 1
    assert got["h-pickler"]["status"] == "error" and "malformed message" in got["h-pickler"]["error"]
    assert not mark.exists(), "the referee unpickled what a solver sent"
    ready = got["h-ready"]
    assert ready["status"] == "timeout" and 2 <= ready["seconds"] < 4  # a second "ready" did not restart the timer
    assert got["h-partial"]["status"] == "timeout"
    assert got["h-flood"]["status"] in ("error", "timeout")
    for name, words in [
        ("h-text-seconds", "'seconds' is a str"),
        ("h-trace-object", "trace"),
        ("h-set-certificate", "not plain data"),
        ("h-deep-certificate", "not plain data"),
        ("h-deep-line", "nested deeper"),
        ("h-string-blocks", "invalid answer"),
    ]:
        assert got[name]["status"] == "error" and words in got[name]["error"], (name, got[name]["error"])
        assert "\n" not in got[name]["error"]
    assert got["h-brute"]["status"] == "ok" and got["h-brute"]["exact"]
    assert got["h-escape"]["status"] == "error"  # its process exited without an answer, its daemon still running
    daemons = [int(line.split()[1]) for line in log.read_text().splitlines() if line.startswith("daemon")]
    assert len(daemons) == 2 and not any(alive(pid) for pid in daemons), "a daemon outlived its solve"


def test_a_solver_that_rewrites_the_files_it_was_given_is_scored_on_the_planned_puzzle(tmp_path, hostile) -> None:
    plugin, log, _ = hostile
    puzzle = write_puzzle(tmp_path / "p", with_answer=True, depth=3, width=4, rows=30)
    out = tmp_path / "out"
    done = bench(
        "--seeds",
        "0",
        "--puzzle",
        puzzle,
        "--out",
        out,
        "--imports",
        plugin,
        "--jobs",
        "1",
        "--timeout",
        "30",
        "-s",
        "h-tamper",
        "-s",
        "h-brute",
        "-s",
        "h-escape",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    got = rows(out)
    assert "own copy mode 444" in log.read_text()
    tamper = got["h-tamper"]
    assert tamper["status"] == "ok" and tamper["exact"] is False and tamper["mse"] > 0
    for later in ("h-brute", "h-escape"):  # the stored puzzle no longer is the planned one: refused, not misjudged
        assert got[later]["status"] == "error" and "changed since the bench planned it" in got[later]["error"]


def test_a_query_solver_that_stops_reading_or_sends_huge_values_cannot_stall_the_oracle(tmp_path, hostile) -> None:
    plugin, log, _ = hostile
    root = write_query_puzzle(tmp_path / "q", budget=100_000, depth=3, width=6, rows=300)
    out = tmp_path / "out"
    t0 = time.monotonic()
    done = bench(
        "--task",
        "query",
        "--seeds",
        "0",
        "--puzzle",
        root,
        "--out",
        out,
        "--imports",
        plugin,
        "--jobs",
        "1",
        "--timeout",
        "2",
        "-s",
        "h-deaf",
        "-s",
        "h-huge",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert time.monotonic() - t0 < DEADLINE
    got = rows(out)
    assert got["h-deaf"]["status"] in ("timeout", "error")
    assert got["h-huge"]["status"] == "ok" and got["h-huge"]["queries"] >= 8


def test_the_oracle_service_refuses_what_it_cannot_answer_and_never_raises() -> None:
    import numpy as np
    import torch

    from reassembly.harness import wire
    from reassembly.harness.oracle_service import answer
    from reassembly.query.oracle import Oracle

    def boom(X: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("value cannot be converted to type float without overflow")

    oracle = Oracle(boom, d=2, budget=10)
    for fields in (
        {"X": wire.encode_array(np.ones((1, 2)))},
        {"X": "rows"},
        {"X": {"__array__": "<f8", "shape": [9], "data": "AA=="}},
        {},
    ):
        kind, body = answer(oracle, fields)
        assert kind == "refused" and "\n" not in body["error"]


def test_the_wire_bounds_depth_size_and_framing(monkeypatch) -> None:
    from reassembly.harness import wire

    r, w = os.pipe()
    channel = wire.Channel(r, ("solved",))
    os.write(w, b'["solved",' + b"[" * 100 + b"]" * 100 + b"]\n")
    with pytest.raises(wire.WireError, match="nested deeper"):
        channel.receive(1.0)
    os.write(w, b'["solved",{"a":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}]\n')  # brackets in strings do not count
    assert channel.receive(1.0) == ("solved", {"a": "[" * 40})
    os.write(w, b'["solved",{')
    t0 = time.monotonic()
    assert channel.receive(0.3) is None and time.monotonic() - t0 < 2  # a partial message: a deadline, not a hang
    monkeypatch.setattr(wire, "MAX_MESSAGE", 1000)
    os.write(w, b"1" * 2000)
    with pytest.raises(wire.WireError, match="limit"):
        channel.receive(1.0)
    os.close(w)
    os.close(r)


# ---------------------------------------------------------------- inputs: one line, exit 2 ----------

CLI_PLUGIN = r"""
import os, sys
from reassembly.registry import register
from reassembly.solver import BaseSolver, SolveResult


class Raise(BaseSolver):
    def solve(self, puzzle):
        raise RuntimeError("boom\nsecond line")


class Exit(BaseSolver):
    def solve(self, puzzle):
        sys.exit(3)


class Chatty(BaseSolver):
    def solve(self, puzzle):
        from reassembly.registry import get_solver
        print("stray text on stdout")
        os.write(1, b"stray bytes on fd 1\n")
        return get_solver("fast").solve(puzzle)


register("c-raise", Raise)
register("c-exit", Exit)
register("c-chatty", Chatty)
"""


@pytest.fixture
def cli_plugin(tmp_path: Path):
    path = tmp_path / "cli_hostile_plugin.py"
    path.write_text(CLI_PLUGIN)
    yield path
    for name in ("c-raise", "c-exit", "c-chatty"):
        registry.unregister(name)
    sys.modules.pop("cli_hostile_plugin", None)


def cli(*args: object, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "reassembly", *map(str, args)], env=env, capture_output=True, text=True, timeout=timeout
    )


def one_line_error(result, *fragments: str, limit: int = 1200) -> None:
    output = (result.output if hasattr(result, "output") else result.stderr).strip()
    code = result.exit_code if hasattr(result, "exit_code") else result.returncode
    assert code == 2, (code, output[-2000:])
    assert "Traceback" not in output and len(output.splitlines()) == 1 and len(output) < limit, output[-2000:]
    for fragment in fragments:
        assert fragment in output, (fragment, output[:500])


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return write_puzzle(tmp_path_factory.mktemp("hostile") / "p", with_answer=True, depth=3, width=4, rows=30)


def variant(base: Path, root: Path) -> Path:
    import shutil

    shutil.copytree(base, root)
    (root / "puzzle.json").unlink(missing_ok=True)
    return root


@pytest.mark.parametrize(
    "case, fragment",
    [
        ("deep", "nested deeper than"),
        ("dangling", "dangling"),
        ("loop", "cannot be followed"),
        ("fifo", "not a regular file"),
        ("huge-family", "unknown block family"),
        ("huge-number", "out of range"),
    ],
)
def test_a_hostile_puzzle_spec_is_one_line(tmp_path, base, case: str, fragment: str) -> None:
    from helpers.cli import invoke

    root = variant(base, tmp_path / case)
    spec = root / "puzzle.json"
    if case == "deep":
        spec.write_text('{"family": ' + "[" * 5000 + "]" * 5000 + "}")
    elif case == "dangling":
        os.symlink(tmp_path / "nowhere", spec)
    elif case == "loop":
        os.symlink(spec, spec)
    elif case == "fifo":
        os.mkfifo(spec)
    elif case == "huge-family":
        spec.write_text(json.dumps({"family": "x" * 1_000_000}))
    else:
        spec.write_text('{"family": "relu", "options": {"width": ' + "9" * 400 + "}}")
    for command in (("verify", root, "0,1,2,3,4,5,6"), ("solve", root)):
        one_line_error(invoke(*command), "puzzle.json", fragment)


def test_a_hostile_option_or_answer_is_one_line(tmp_path, base) -> None:
    from helpers.cli import invoke

    one_line_error(invoke("solve", base, "-o", "rows=" + "9" * 400), "out of range")
    ids = json.loads((base / "answer.json").read_text())["ids"]
    one_line_error(invoke("verify", base, " ".join(map(str, ids))), "separated by commas")
    one_line_error(invoke("verify", base, ",".join(map(str, ids[:-1] + [97]))), "piece id 97 is out of range")
    one_line_error(invoke("verify", base, ",".join(map(str, [-1] + ids[1:]))), "piece id -1 is out of range")
    for name, content, fragment in [
        ("perm", {"ids": [0] * len(ids)}, "permutation"),
        ("floats", {"ids": [i + 0.5 for i in ids]}, "floats are refused"),
    ]:
        root = variant(base, tmp_path / name)
        (root / "answer.json").write_text(json.dumps(content))
        one_line_error(invoke("verify", root, ",".join(map(str, ids))), "answer.json", fragment)


def test_a_csv_row_with_a_field_too_many_is_refused_not_read_shifted(tmp_path, base) -> None:
    from helpers.cli import invoke

    root = variant(base, tmp_path / "csv")
    lines = (root / "historical_data.csv").read_text().splitlines()
    fields = lines[3].split(",")
    lines[3] = ",".join(fields[:2] + ["0.5"] + fields[2:])
    (root / "historical_data.csv").write_text("\n".join(lines) + "\n")
    one_line_error(invoke("solve", root), "historical_data.csv")


def test_a_solver_that_raises_exits_or_prints_is_one_line_or_clean_json(base, cli_plugin) -> None:
    from helpers.cli import invoke

    one_line_error(
        invoke("solve", base, "--imports", cli_plugin, "-s", "c-raise"), "c-raise", "RuntimeError: boom second line"
    )
    one_line_error(invoke("solve", base, "--imports", cli_plugin, "-s", "c-exit"), "c-exit", "status 3")
    done = cli("solve", base, "--imports", cli_plugin, "-s", "c-chatty", "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["solver"] == "c-chatty" and "stray" in done.stderr


def test_verify_of_a_wrong_answer_to_the_jane_street_puzzle_fails() -> None:
    from helpers.cli import invoke

    from reassembly.answer import Assembly
    from reassembly.janestreet import find_janestreet
    from reassembly.loader import load_puzzle

    root = find_janestreet()
    if root is None:
        pytest.skip("the Jane Street puzzle is not beside the checkout")
    pools = load_puzzle(root).layout.pools
    wrong = Assembly(tuple(zip(pools["inp"], pools["out"])), (pools["last"][0],))
    result = invoke("verify", root, wrong.text())
    assert result.exit_code == 1 and "does not match the published Jane Street SHA-256" in result.output


def test_odd_options_and_outputs_are_one_line(tmp_path) -> None:
    from helpers.cli import invoke

    (tmp_path / "folder").mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.jsonl").write_text('{"key": "k", "status": "ok", "solver": "s"}\n')
    one_line_error(invoke("report", out, "--html", tmp_path / "folder"), "--html", "not a regular file")
    one_line_error(
        invoke("bench", "--depth", "3", "--width", "9" * 30, "--seeds", "1", "-s", "fast", "--out", tmp_path / "w"),
        "width must be <=",
    )


# ------------------------------------------------------------------------------ files ------------


def test_the_bench_never_writes_through_symlinks_or_appends_to_foreign_records(tmp_path, base) -> None:
    from helpers.cli import invoke

    victim = tmp_path / "victim.txt"
    victim.write_text("mine\n")
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(victim, out / "results.jsonl")
    one_line_error(invoke("bench", "--seeds", "0", "--puzzle", base, "-s", "fast", "--out", out), "symlink")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "results.jsonl").write_text("my own notes\n")
    one_line_error(invoke("bench", "--seeds", "0", "--puzzle", base, "-s", "fast", "--out", foreign), "did not write")
    assert victim.read_text() == "mine\n" and (foreign / "results.jsonl").read_text() == "my own notes\n"


def test_a_torn_csv_is_rebuilt_from_the_record_when_every_run_is_stored(tmp_path, base) -> None:
    from helpers.cli import invoke

    out = tmp_path / "out"
    args = ("bench", "--seeds", "0", "--puzzle", base, "-s", "fast", "--out", out, "--jobs", "1")
    assert invoke(*args).exit_code == 0
    (out / "results.csv").write_text("key,sta")
    again = invoke(*args)
    assert again.exit_code == 0 and "already in" in again.output
    import pandas as pd

    assert list(pd.read_csv(out / "results.csv")["solver"]) == ["fast"]


def test_cache_clear_deletes_only_its_own_entries_and_list_skips_fifos(tmp_path) -> None:
    from helpers.cli import invoke

    models = tmp_path / "cache" / "models"
    models.mkdir(parents=True)
    (models / "notes.json").write_text("{}")
    os.mkfifo(models / ("a" * 64 + ".json"))
    own = models / ("b" * 64 + ".json")
    own.write_text('{"config": {}}')
    done = invoke("cache", "list", "--cache-dir", tmp_path / "cache")
    assert done.exit_code == 0 and "1 trained models" in done.output
    assert invoke("cache", "clear", "--yes", "--cache-dir", tmp_path / "cache").exit_code == 0
    assert (models / "notes.json").exists() and not own.exists()


# ------------------------------------------------------------------------- identifiability -------


def test_a_one_row_table_is_flagged_as_unidentifiable(tmp_path, base) -> None:
    import pandas as pd
    from helpers.cli import invoke

    root = variant(base, tmp_path / "one-row")
    table = pd.read_csv(root / "historical_data.csv")
    table.iloc[:1].to_csv(root / "historical_data.csv", index=False)
    done = invoke("solve", root, "--json")
    assert "cannot tell candidate answers apart" in done.output
    full = invoke("solve", base, "--json")
    assert full.exit_code == 0 and "cannot tell" not in full.output


def test_cached_real_weights_are_checked_by_checksum_on_every_use(tmp_path, monkeypatch) -> None:
    import hashlib

    from generators.real import fetch

    good = b"weights"
    monkeypatch.setitem(
        fetch.SOURCES,
        "t-net",
        fetch.Source("t-net==0", "0" * 64, {"m/w.bin": ("w.bin", hashlib.sha256(good).hexdigest())}, "json"),
    )
    folder = fetch.weights_dir("t-net", tmp_path)
    folder.mkdir(parents=True)
    (folder / "w.bin").write_bytes(good)
    assert fetch.present("t-net", tmp_path)
    (folder / "w.bin").write_bytes(good[:3])  # truncated
    assert not fetch.present("t-net", tmp_path)
    (folder / "w.bin").write_bytes(b"weighTs")  # flipped
    assert not fetch.present("t-net", tmp_path)


def test_generate_force_replaces_a_directory_it_did_not_write(tmp_path) -> None:
    from helpers.cli import invoke

    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    args = ("generate", "--out", out, "--depth", "2", "--width", "4", "--hidden", "8", "--rows", "40", "--quiet")
    refused = invoke(*args)
    assert refused.exit_code == 2 and "--force" in refused.output
    assert invoke(*args, "--force").exit_code == 0
    assert (out / "pieces").is_dir() and (out / "notes.txt").read_text() == "keep me"


def test_generating_one_puzzle_is_locked_across_benches(tmp_path) -> None:
    import threading

    from reassembly.harness.plan import generation_lock

    held = threading.Event()
    waited: list[float] = []

    def first() -> None:
        with generation_lock(tmp_path, "p"):
            held.set()
            time.sleep(0.5)

    thread = threading.Thread(target=first)
    thread.start()
    held.wait(5)
    t0 = time.monotonic()
    with generation_lock(tmp_path, "p"):
        waited.append(time.monotonic() - t0)
    thread.join()
    assert waited[0] >= 0.3
