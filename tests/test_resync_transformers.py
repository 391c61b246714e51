"""Re-synchronisation of transformer layers: heads (key-value heads with their query heads under
grouped attention) and MLP units move without changing the function, both solvers put them back,
bad requests get one line, and (with the weights in the cache) MiniLM's layers are re-synchronised
under 4-bit quantisation."""

from __future__ import annotations

import pytest
import torch
from helpers.tasks import transformer_problem
from test_real_networks import REAL_CACHE, weights

from generators.config import Perturbation
from generators.perturb import perturb_tensors
from generators.real.finetune import finetune_copy, next_token_loss
from reassembly.errors import ConfigError, PuzzleError
from reassembly.registry import get_solver
from reassembly.resync.network import forward
from reassembly.resync.problem import ResyncProblem, load_problem, save_problem
from reassembly.resync.scoring import judge
from reassembly.resync.units import permute_state


@pytest.mark.parametrize("family", ["llama", "bert"])
def test_permuted_heads_and_units_keep_the_function_and_unpermute_to_the_reference(family) -> None:
    problem, answer = transformer_problem(family)
    names = [g.name for g in problem.groups]
    if family == "llama":  # key-value heads, the query heads within them, the MLP units
        assert names[:3] == ["block0.k", "block0.q", "block0.gate"] and problem.groups[1].within == "block0.k"
        assert [g.units for g in problem.groups[:3]] == [2, 4, 24]
    else:
        assert names[:2] == ["block0.q", "block0.inp"] and [g.units for g in problem.groups[:2]] == [4, 24]
    y = forward(problem.family, problem.depth, problem.reference, problem.X, problem.fixed)
    z = forward(problem.family, problem.depth, problem.copy, problem.X, problem.fixed)
    assert torch.allclose(y, z, atol=1e-10)
    assert any(not torch.equal(problem.reference[k], problem.copy[k]) for k in problem.reference)
    back = permute_state(problem.copy, problem.groups, [torch.tensor(p) for p in answer.perms])
    assert all(torch.equal(back[k], problem.reference[k]) for k in problem.reference)
    scored = judge(problem, answer, [list(p) for p in answer.perms])
    assert scored["exact"] and scored["weight_error"] == 0 and scored["output_error"] < 1e-20


def test_query_heads_moved_across_their_key_value_heads_change_the_function() -> None:
    problem, answer = transformer_problem("llama")
    perms = [list(p) for p in answer.perms]
    q = perms[1]  # block0.q: 4 query heads, 2 per key-value head
    q[0], q[2] = q[2], q[0]  # two query heads of different key-value heads swapped, their keys left
    scored = judge(problem, answer, perms)
    assert not scored["exact"] and scored["psi"] == pytest.approx(5 / 6) and scored["output_error"] > 1e-3


@pytest.mark.parametrize("family", ["llama", "bert"])
@pytest.mark.parametrize("name", ["resync-cosine", "resync-match"])
def test_both_solvers_resynchronise_a_noisy_transformer(tmp_path, family, name) -> None:
    problem, answer = transformer_problem(family, noise=0.1)
    save_problem(problem, tmp_path)
    again = load_problem(tmp_path)  # tokens and the fixed stem survive the disk
    assert torch.equal(again.tokens, problem.tokens) and again.family.options == problem.family.options
    result = get_solver(name).solve(again)
    assert judge(again, answer, result.perms)["exact"]


def test_bad_transformer_problems_and_perturbations_get_one_line(tmp_path) -> None:
    problem, _ = transformer_problem("llama")
    with pytest.raises(PuzzleError, match="reads token sequences; none given"):
        ResyncProblem(problem.family, 2, problem.reference, problem.copy, None, "bad", problem.fixed)
    with pytest.raises(PuzzleError, match="fixed tensors"):
        ResyncProblem(problem.family, 2, problem.reference, problem.copy, None, "bad", {}, problem.tokens)
    with pytest.raises(ConfigError, match="takes noise, quantize, prune or finetune"):
        perturb_tensors([torch.zeros(2, 2)], Perturbation("rescale", 0.05), torch.Generator())
    bert, _ = transformer_problem("bert")
    with pytest.raises(ConfigError, match="no language-model objective"):
        finetune_copy(bert.family, 2, dict(bert.copy), bert.fixed, bert.tokens, 1)
    save_problem(problem, tmp_path)
    (tmp_path / "fixed.pth").unlink()
    with pytest.raises(PuzzleError, match="fixed.pth: missing"):
        load_problem(tmp_path)


def test_fine_tuning_a_language_models_copy_lowers_its_loss_and_both_solvers_follow() -> None:
    problem, answer = transformer_problem("llama")
    copy = {k: v.clone() for k, v in problem.copy.items()}
    losses = finetune_copy(problem.family, 2, copy, problem.fixed, problem.tokens, steps=20, lr=1e-3)
    assert losses[-1] < losses[0] and not torch.equal(copy["blocks.0.q.weight"], problem.copy["blocks.0.q.weight"])
    again = float(next_token_loss(problem.family, 2, copy, problem.fixed, problem.tokens))
    assert again == pytest.approx(losses[-1], rel=1e-4)
    tuned = ResyncProblem(problem.family, 2, problem.reference, copy, None, "tuned", problem.fixed, problem.tokens)
    for name in ("resync-cosine", "resync-match"):
        assert judge(tuned, answer, get_solver(name).solve(tuned).perms)["exact"], name


def test_bench_from_needs_the_resync_task(tmp_path) -> None:
    from helpers.cli import assert_clean_error, invoke

    assert_clean_error(invoke("bench", "--from", "minilm", "--out", tmp_path / "b"), "--task resync")


def test_minilm_layers_are_resynchronised_under_4_bit_quantisation() -> None:
    weights("minilm", "safetensors")  # skips, with the fetch command, where the weights are absent
    from generators.real.build import RealConfig
    from generators.real.resync import build_real_resync

    config = RealConfig("minilm", seed=0, rows=4, length=8, layers=2)
    problem, answer, meta = build_real_resync(config, [Perturbation("quantize", 4)], REAL_CACHE)
    assert meta["groups"] == ["block0.q", "block0.inp", "block1.q", "block1.inp"]
    assert [g.units for g in problem.groups[:2]] == [12, 1536]
    for name in ("resync-cosine", "resync-match"):
        result = get_solver(name).solve(problem)
        assert judge(problem, answer, result.perms)["exact"], name
