"""Black-box reconstruction: the referee compares up to the network's isomorphisms (and catches a
wrong weight); the baseline recovers a tiny ReLU network from queries within its budget."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from helpers.tasks import tiny_mlp

from reassembly.errors import PermutationError
from reassembly.query.blackbox import BlackboxProblem, save_answer, save_problem
from reassembly.query.mlp import canonical, check_params, forward, parameter_errors
from reassembly.registry import get_solver
from reassembly.tasks import get_task


def isomorphic(p: dict[str, torch.Tensor], seed: int = 1) -> dict[str, torch.Tensor]:
    """``p`` with its hidden units permuted and each positively rescaled: the same function."""
    g = torch.Generator().manual_seed(seed)
    h = len(p["b1"])
    perm, s = torch.randperm(h, generator=g), torch.rand(h, generator=g, dtype=torch.float64) * 3 + 0.2
    return {"W1": p["W1"][perm] * s[:, None], "b1": p["b1"][perm] * s, "W2": p["W2"][:, perm] / s, "b2": p["b2"]}


def test_isomorphic_networks_have_the_same_canonical_form_and_a_wrong_weight_is_caught() -> None:
    truth = tiny_mlp(d=4, h=6)
    twin = isomorphic(truth)
    X = torch.randn(50, 4, dtype=torch.float64)
    assert torch.allclose(forward(truth, X), forward(twin, X))
    assert parameter_errors(truth, twin)["max_error"] < 1e-12
    assert not torch.allclose(canonical(truth)["W1"], twin["W1"])
    wrong = {k: v.clone() for k, v in twin.items()}
    wrong["W2"][1, 2] += 1e-3
    incoming = (twin["W1"][2].square().sum() + twin["b1"][2] ** 2).sqrt().item()  # canonical W2 carries it
    assert parameter_errors(truth, wrong)["max_error"] == pytest.approx(1e-3 * incoming, rel=1e-6)


def test_answers_of_the_wrong_shape_are_refused() -> None:
    with pytest.raises(PermutationError, match="exactly"):
        check_params({"W1": [[1.0]]}, 1, 1, 1)
    with pytest.raises(PermutationError, match="shape"):
        check_params({"W1": [[1.0, 2.0]], "b1": [0.0], "W2": [[1.0]], "b2": [0.0]}, 1, 1, 1)
    with pytest.raises(PermutationError, match="not a number"):
        check_params({"W1": [["x"]], "b1": [0.0], "W2": [[1.0]], "b2": [0.0]}, 1, 1, 1)


@pytest.mark.parametrize(
    "name, options", [("blackbox-random", {"queries": 1000, "population": 2, "max_iter": 400}), ("blackbox-kinks", {})]
)
def test_the_solvers_reconstruct_a_tiny_network_within_the_budget(tmp_path: Path, name: str, options: dict) -> None:
    truth = tiny_mlp(d=3, h=4, o=2)
    root = save_problem(BlackboxProblem(3, 4, 2, budget=300), tmp_path / "bb")
    save_answer(truth, root / "answer.json")
    task = get_task("blackbox")
    oracle = task.serve(root, root / "answer.json")
    problem = task.attach(task.load(root), oracle)
    result = get_solver(name, **options).solve(problem)  # blackbox-random asks for more than allowed: it gets 300
    judged = task.judge(task.prepare(root, root / "answer.json"), {**task.claims(result), **oracle.counts()})
    assert judged["queries"] <= 300 and judged["queries_refused"] == 0
    assert judged["exact"] and judged["max_error"] < 1e-4 and judged["output_error"] < 1e-8
    if name == "blackbox-random":
        assert judged["queries"] == 300
        with pytest.raises(Exception, match="budget exhausted"):
            oracle.query(torch.zeros(1, 3))


def solved_tiny(tmp_path: Path, budget: int, solver: Any) -> tuple[Any, dict]:
    """``solver`` on a served 3-4-2 network with ``budget`` queries: its result and the judge's row."""
    root = save_problem(BlackboxProblem(3, 4, 2, budget=budget), tmp_path / "bb")
    save_answer(tiny_mlp(d=3, h=4, o=2), root / "answer.json")
    task = get_task("blackbox")
    oracle = task.serve(root, root / "answer.json")
    result = solver.solve(task.attach(task.load(root), oracle))
    return result, task.judge(task.prepare(root, root / "answer.json"), {**task.claims(result), **oracle.counts()})


def test_the_kink_reader_returns_an_answer_when_the_budget_runs_out(tmp_path: Path) -> None:
    result, judged = solved_tiny(tmp_path, 20, get_solver("blackbox-kinks"))
    assert not judged["exact"] and judged["queries"] <= 20 and not result.details["complete"]


def test_the_committee_starts_no_round_past_its_time_limit(tmp_path: Path) -> None:
    solver = get_solver("blackbox-committee", initial=16, population=2, max_iter=50, agree=1e-12, time_limit=1e-6)
    result, judged = solved_tiny(tmp_path, 5000, solver)
    assert [s.stage for s in result.stages] == ["fit", "fit"]  # one round of fits, then the limit stops it
    assert judged["queries"] == 16
