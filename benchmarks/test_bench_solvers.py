"""Each registered solver, timed once per round on the real puzzle and on a synthetic depth-48 one.

Solvers take seconds to minutes, so each runs one round (``benchmark.pedantic``; ``fast``: five
after a warm-up); the result's
exactness, MSE and evaluation count go into the benchmark's ``extra_info``.
"""

from __future__ import annotations

import math

import pytest

from reassembly.errors import UnsupportedPuzzle
from reassembly.registry import get_solver, list_solvers, specs
from reassembly.scoring import score

SOLVERS = [name for name in list_solvers() if specs()[name].task == "reassembly"]
MUST_SOLVE_JANESTREET = {"paper", "fast"}  # both recover the real puzzle exactly
ROUNDS = {"fast": 5}  # sub-second solvers: the target is the median of 5 solves


def solve_once(benchmark, name: str, puzzle, answer):
    solver = get_solver(name)
    rounds = ROUNDS.get(name, 1)
    try:
        result = benchmark.pedantic(
            solver.solve, args=(puzzle,), rounds=rounds, iterations=1, warmup_rounds=min(rounds - 1, 1)
        )
    except UnsupportedPuzzle as exc:  # a solver for other families (transformer) says so at once
        pytest.skip(f"{name}: {exc}")
    s = score(puzzle, result.assembly, answer)
    benchmark.extra_info.update(
        solver=name,
        params=repr(solver.get_params()),
        exact=s.exact,
        mse=s.mse,
        grouping_accuracy=s.grouping_accuracy,
        kendall_tau=s.kendall_tau,
        evaluations=result.evaluations,
    )
    assert math.isfinite(s.mse)  # score() has also checked the answer is valid
    return s


@pytest.mark.parametrize("name", SOLVERS)
def test_solver_on_janestreet(benchmark, janestreet_puzzle, name: str) -> None:
    puzzle, answer = janestreet_puzzle
    s = solve_once(benchmark, name, puzzle, answer)
    if name in MUST_SOLVE_JANESTREET:
        assert s.exact, f"{name} no longer recovers the Jane Street puzzle (MSE {s.mse:.3e})"


@pytest.mark.parametrize("name", SOLVERS)
def test_solver_on_synthetic_depth48(benchmark, synthetic_puzzle, name: str) -> None:
    puzzle, answer = synthetic_puzzle
    solve_once(benchmark, name, puzzle, answer)
