"""Neuron re-synchronisation: the referee catches wrong permutations, both solvers re-synchronise a
small network, ours where the paper's cosine breaks, and the integrity check flags rescaled units."""

from __future__ import annotations

import pytest
import torch
from helpers.tasks import resync_problem

from reassembly.errors import PermutationError
from reassembly.registry import get_solver
from reassembly.resync.problem import ResyncAnswer, load_answer, load_problem, save_answer, save_problem
from reassembly.resync.scoring import judge
from reassembly.resync.units import scale_units


def test_the_referee_scores_the_true_permutations_and_catches_a_swap() -> None:
    problem, answer = resync_problem()
    right = judge(problem, answer, [list(p) for p in answer.perms])
    assert right["exact"] and right["psi"] == 1 and right["unit_share"] == 1
    assert right["weight_error"] < 1e-12 and right["output_error"] < 1e-20
    wrong = [list(p) for p in answer.perms]
    wrong[1][0], wrong[1][1] = wrong[1][1], wrong[1][0]
    scored = judge(problem, answer, wrong)
    assert not scored["exact"] and scored["psi"] == pytest.approx(2 / 3) and scored["layers_exact"] == 2
    assert scored["unit_share"] == pytest.approx(1 - 2 / 48) and scored["weight_error"] > 0.01


@pytest.mark.parametrize(
    "perms, message",
    [
        ([[0, 1]], "3 permutations"),
        ([list(range(16))] * 2 + [[0] * 16], "each unit"),
        ([list(range(16))] * 2 + [[0.5] + list(range(1, 16))], "not an integer"),
    ],
)
def test_malformed_answers_are_refused(perms, message) -> None:
    problem, answer = resync_problem()
    with pytest.raises(PermutationError, match=message):
        judge(problem, answer, perms)


def test_problems_and_answers_survive_the_disk(tmp_path) -> None:
    problem, answer = resync_problem(depth=2, h=6)
    save_problem(problem, tmp_path)
    save_answer(answer, tmp_path / "answer.json")
    again = load_problem(tmp_path)
    assert again.depth == 2 and again.sizes == problem.sizes and load_answer(tmp_path / "answer.json") == answer
    assert judge(again, answer, [list(p) for p in answer.perms])["exact"]


@pytest.mark.parametrize("name", ["resync-cosine", "resync-match"])
def test_both_solvers_resynchronise_a_lightly_perturbed_copy(name) -> None:
    problem, answer = resync_problem(noise=0.1)
    result = get_solver(name).solve(problem)
    scored = judge(problem, answer, result.perms, result.flags)
    assert scored["exact"] and scored["false_flags"] == 0


def test_ours_holds_where_the_cosine_of_incoming_weights_breaks() -> None:
    """Heavy noise: the incoming weights alone no longer single out each unit; every tensor of the
    unit, each view weighed by how well it separates, still does."""
    problem, answer = resync_problem(noise=0.8, d=12, h=24, seed=3)
    psi = {
        n: judge(problem, answer, get_solver(n).solve(problem).perms)["psi"] for n in ("resync-cosine", "resync-match")
    }
    assert psi["resync-match"] == 1 and psi["resync-cosine"] < 1


def test_the_integrity_check_flags_rescaled_units() -> None:
    problem, answer = resync_problem(noise=0.02, h=24)
    attacked = [(0, 3), (2, 7)]
    for layer, unit in attacked:  # the copy's unit of the reference's unit, scaled by 3 (in) and 1/3 (out)
        scale = torch.ones(24, dtype=torch.float64)
        scale[answer.perms[layer][unit]] = 3.0
        problem.copy = scale_units(problem.copy, problem.groups[layer], scale)
    answer = ResyncAnswer(answer.perms, tuple(attacked))
    for name in ("resync-cosine", "resync-match"):
        result = get_solver(name).solve(problem)
        scored = judge(problem, answer, result.perms, result.flags)
        assert scored["exact"], name
        assert scored["flag_recall"] == 1 and scored["false_flags"] == 0, (name, result.flags)
