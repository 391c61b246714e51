"""``fast`` where the weights do not give the answer away, and ``reassembly solve`` end to end.

- A depth-16 net trained with PyTorch's default initialisation (seed 0; trained here in seconds
  where it is not cached): the write pieces stay close to their random start, so ``fast`` must
  pair them from the data (its ``relink`` stage).
- The whole command a user runs on the real puzzle (interpreter start, imports, loading, CSV
  parsing, solving, printing), in a fresh process per round.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys

import pytest

from reassembly.janestreet import JANESTREET_SHA256
from reassembly.registry import get_solver
from reassembly.scoring import score


@pytest.fixture(scope="module")
def default_init_puzzle():
    try:
        from generators import PuzzleConfig, TrainingRecipe, build_puzzle
    except ImportError as exc:
        pytest.skip(f"generators package unavailable: {exc}")
    config = PuzzleConfig(depth=16, seed=0, recipe=TrainingRecipe(init="default"))
    return build_puzzle(config, progress=False)[:2]


def test_fast_on_default_init_depth16(benchmark, default_init_puzzle) -> None:
    puzzle, answer = default_init_puzzle
    result = benchmark.pedantic(get_solver("fast").solve, args=(puzzle,), rounds=3, iterations=1, warmup_rounds=1)
    s = score(puzzle, result.assembly, answer)
    benchmark.extra_info.update(
        exact=s.exact, mse=s.mse, grouping_accuracy=s.grouping_accuracy, evaluations=result.evaluations
    )
    assert s.exact, f"fast misses the default-init depth-16 net (MSE {s.mse:.3e}, grouping {s.grouping_accuracy:.0%})"


def test_solve_command_on_janestreet(benchmark, janestreet_puzzle) -> None:
    from reassembly.janestreet import find_janestreet

    exe = shutil.which("reassembly")
    command = [exe] if exe else [sys.executable, "-m", "reassembly"]

    def run() -> str:
        done = subprocess.run([*command, "solve", str(find_janestreet())], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    answer = benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)
    assert hashlib.sha256(answer.encode()).hexdigest() == JANESTREET_SHA256
