"""No orphans: a timeout, or the bench killed with SIGKILL, ends the solver and everything it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.synthetic import write_puzzle
from test_harness import PLUGIN


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


def wait_for(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


@pytest.fixture
def setup(tmp_path: Path):
    plugin = tmp_path / "orphan_test_plugin.py"
    plugin.write_text(PLUGIN)
    puzzle = write_puzzle(tmp_path / "p", with_answer=True, depth=3, width=4, rows=30)
    log = tmp_path / "pids"
    env = {**os.environ, "HARNESS_PID_LOG": str(log), "PYTHONPATH": os.pathsep.join(sys.path)}
    args = [
        sys.executable,
        "-m",
        "reassembly",
        "bench",
        "--seeds",
        "0",
        "--puzzle",
        str(puzzle),
        "--out",
        str(tmp_path / "out"),
        "--imports",
        str(plugin),
        "-s",
        "t-spawner",
        "--jobs",
        "1",
    ]
    return args, env, log


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads process states from /proc (Linux)")
def test_a_killed_bench_leaves_no_solver_running(setup) -> None:
    args, env, log = setup
    bench = subprocess.Popen([*args, "--timeout", "600"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: log.is_file() and log.read_text().strip(), 60), "the solver never started"
        worker, child = map(int, log.read_text().split())
        assert alive(worker) and alive(child)
        bench.send_signal(signal.SIGKILL)
        bench.wait(10)
        assert wait_for(lambda: not alive(worker) and not alive(child), 15), "orphans left after kill -9 of the bench"
    finally:
        bench.kill()


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads process states from /proc (Linux)")
def test_a_timeout_ends_the_solvers_children_too(setup) -> None:
    args, env, log = setup
    done = subprocess.run([*args, "--timeout", "3"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    worker, child = map(int, log.read_text().split())
    assert wait_for(lambda: not alive(worker) and not alive(child), 10)
