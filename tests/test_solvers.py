"""The paper's pipelines (``paper``, ``paper-hillclimb``, ``cosine``) on a small synthetic puzzle:
exact answer, parameters, stage reports, and where their signals do not apply.

The synthetic blocks are built with the structure the paper relies on (see helpers/synthetic.py):
this is a unit test of the pipeline, not a claim that trained networks look like this.
"""

from __future__ import annotations

import math

import pytest
from helpers.synthetic import make_puzzle

from reassembly.errors import ReassemblyError, UnsupportedPuzzle
from reassembly.registry import get_solver
from reassembly.scoring import score

SOLVERS = ("paper", "paper-hillclimb", "cosine")
STAGES = {
    "paper": ["pairing", "seed", "ranking", "repair"],
    "paper-hillclimb": ["pairing", "seed", "repair"],
    "cosine": ["pairing", "seed", "ranking", "repair"],
}


@pytest.fixture(scope="module")
def puzzle_and_answer():
    # A seed order that is not already right, so ranking and repair must work.
    return make_puzzle(depth=8, width=12, rows=400, seed=5)


@pytest.fixture(scope="module")
def results(puzzle_and_answer):
    puzzle, _ = puzzle_and_answer
    return {name: get_solver(name).solve(puzzle) for name in SOLVERS}


@pytest.mark.parametrize("name", SOLVERS)
def test_exact_answer(name, puzzle_and_answer, results) -> None:
    puzzle, answer = puzzle_and_answer
    s = score(puzzle, results[name].assembly, answer)
    assert s.exact, s
    assert s.mse < 1e-12


@pytest.mark.parametrize("name", SOLVERS)
def test_stage_reports(name, puzzle_and_answer, results) -> None:
    puzzle, _ = puzzle_and_answer
    D = puzzle.depth
    result = results[name]
    stages = {s.stage: s for s in result.stages}
    assert [s.stage for s in result.stages] == STAGES[name]
    assert all(s.seconds >= 0 for s in result.stages)
    assert stages["pairing"].details["gap"] > 0  # correct pairs clearly beat the rest
    assert stages["seed"].mse > 0, "the seed is already exact: the test puzzle is too easy"
    for s in result.stages[1:]:
        assert math.isfinite(s.mse) and s.mse >= 0
    if "ranking" in stages:
        ranking = stages["ranking"]
        assert ranking.evaluations >= D * (D - 1) // 2  # every pairwise swap is tried
        assert ranking.rounds > 0 and ranking.details["temperature"] > 0
    repair = stages["repair"]
    history = repair.details["history"]
    assert repair.rounds == len(history) - 1 >= 1
    assert repair.swaps == sum(r["swaps"] for r in history) > 0
    assert history[-1]["swaps"] == 0  # stopped because a sweep made no swap
    assert repair.evaluations >= repair.rounds * (D - 1)
    assert repair.mse == pytest.approx(0, abs=1e-12)
    assert result.evaluations == sum(s.evaluations for s in result.stages)
    payload = result.to_json()
    assert payload["answer"] == result.assembly.text() and len(payload["stages"]) == len(result.stages)


@pytest.mark.parametrize("name", SOLVERS)
def test_params_round_trip(name) -> None:
    solver = get_solver(name, rows=123, random_state=7)
    params = solver.get_params()
    assert params["rows"] == 123 and params["random_state"] == 7
    assert type(solver)(**params).get_params() == params
    assert get_solver(name, **params).get_params() == params


def test_defaults_differ_where_they_should() -> None:
    assert get_solver("paper").get_params()["ranking"] == "bradley-terry"
    assert get_solver("paper-hillclimb").get_params()["ranking"] == "none"
    assert get_solver("cosine").get_params()["pairing"] == "cosine"


def test_deterministic(synthetic) -> None:
    puzzle, _ = synthetic
    a = get_solver("paper", rows=100, random_state=3).solve(puzzle)
    b = get_solver("paper", rows=100, random_state=3).solve(puzzle)
    assert a.assembly == b.assembly
    assert [s.swaps for s in a.stages] == [s.swaps for s in b.stages]


@pytest.mark.parametrize("options", [{"seed": "wout-norm"}, {"dtype": "float64", "rows": None}, {"max_rounds": 50}])
def test_options_still_solve(options, synthetic) -> None:
    puzzle, answer = synthetic
    result = get_solver("paper", **options).solve(puzzle)
    assert score(puzzle, result.assembly, answer).exact


@pytest.mark.parametrize(("option", "value"), [("seed", "bogus"), ("pairing", "bogus"), ("dtype", "float16")])
def test_bad_option_value_is_a_reassembly_error(option, value) -> None:
    with pytest.raises(ReassemblyError, match=f"{option}.*{value}"):
        get_solver("paper", **{option: value})


@pytest.mark.parametrize("family", ["gelu", "silu"])
def test_the_paper_applies_to_other_two_piece_blocks(family) -> None:
    puzzle, answer = make_puzzle(seed=2, family=family)
    assert score(puzzle, get_solver("paper").solve(puzzle).assembly, answer).exact


@pytest.mark.parametrize(("family", "names"), [("prenorm", "norm"), ("swiglu", "up")])
@pytest.mark.parametrize("name", SOLVERS)
def test_and_says_clearly_where_its_signals_do_not(name, family, names) -> None:
    puzzle, _ = make_puzzle(depth=3, width=6, rows=30, family=family)
    with pytest.raises(UnsupportedPuzzle, match=f"{family!r} blocks also have {names}"):
        get_solver(name).solve(puzzle)
