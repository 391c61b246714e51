"""Generators: options, perturbations, determinism, cache, and the written puzzle."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest
import torch

from generators import ModelCache, PuzzleConfig, TrainingRecipe, build_puzzle, generate, parse_perturbation
from generators.build import trained_model
from generators.data import make_dataset
from generators.perturb import apply_perturbations
from reassembly.answer import load_answer
from reassembly.errors import ConfigError
from reassembly.families import FAMILY_NAMES
from reassembly.loader import load_puzzle
from reassembly.scoring import network_mse


def mse(puzzle, answer) -> float:
    return network_mse(puzzle, answer.assembly(puzzle.layout))


SMALL = PuzzleConfig(depth=3, width=6, hidden=12, rows=256, recipe=TrainingRecipe(epochs=2, batch_size=64))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return trained_model(SMALL, cache_dir=tmp_path_factory.mktemp("cache"), progress=False)


def params(model) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


# --- options -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"depth": 0}, "depth must be >= 2"),
        ({"hidden": 0}, "hidden must be >= 1"),
        ({"block": "transformer"}, "unknown block family 'transformer'"),
        ({"depth": 4.0}, "depth must be an integer"),
        ({"label_noise": -0.1}, "label_noise must be >= 0"),
        ({"input_noise": -1.0}, "input_noise must be >= 0"),
        ({"inputs": "uniform"}, "unknown inputs 'uniform'"),
        ({"pred_from": "teacher"}, "pred_from"),
        ({"rows": 3}, "rows must be >= 10"),
        ({"teacher_sees": "both"}, "teacher_sees"),
    ],
)
def test_bad_config_options_raise_config_error(change, fragment):
    with pytest.raises(ConfigError, match=fragment):
        dataclasses.replace(SMALL, **change)


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"optimizer": "rmsprop"}, "unknown optimizer 'rmsprop'"),
        ({"lr": 0.0}, "lr must be a positive"),
        ({"epochs": 0}, "epochs must be"),
        ({"batch_size": 0}, "batch_size must be"),
        ({"weight_decay": -1e-3}, "weight_decay must be >= 0"),
        ({"early_stopping": 0}, "early_stopping"),
        ({"momentum": 1.0}, "momentum must be in"),
        ({"schedule": "step"}, "unknown schedule 'step'"),
        ({"init": "xavier"}, "unknown init 'xavier'"),
    ],
)
def test_bad_recipe_options_raise_config_error(change, fragment):
    with pytest.raises(ConfigError, match=fragment):
        dataclasses.replace(TrainingRecipe(), **change)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("noise=-0.1", "sigma must be >= 0"),
        ("quantize=0", "bits"),
        ("prune=1.5", "fraction"),
        ("finetune=2.5", "steps"),
        ("blur=3", "unknown kind 'blur'"),
        ("noise=abc", "not a number"),
        ("noise", "needs a numeric value"),
        ("reparam=2", "takes no value"),
    ],
)
def test_bad_perturbations_raise_config_error(text, fragment):
    with pytest.raises(ConfigError, match=fragment):
        parse_perturbation(text)


def test_parse_perturbation_round_trips():
    for text in ("noise=0.01", "quantize=8", "prune=0.5", "finetune=100", "reparam"):
        assert str(parse_perturbation(text)) == text


def test_to_dict_is_flat_json_and_key_ignores_post_training_options():
    config = dataclasses.replace(SMALL, perturbations=(parse_perturbation("prune=0.5"),), pred_from="perturbed")
    d = config.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["recipe_optimizer"] == SMALL.recipe.optimizer and d["perturbations"] == "prune=0.5"
    assert config.cache_key() == SMALL.cache_key()
    assert dataclasses.replace(SMALL, seed=1).cache_key() != SMALL.cache_key()
    assert (
        dataclasses.replace(SMALL, recipe=dataclasses.replace(SMALL.recipe, lr=2e-3)).cache_key() != SMALL.cache_key()
    )


# --- perturbations -------------------------------------------------------------------------------


def test_reparametrisation_keeps_outputs_and_changes_weights(trained):
    model = apply_perturbations(
        trained.model, dataclasses.replace(SMALL, perturbations=(parse_perturbation("reparam"),)), trained.teacher
    )
    X = trained.data.X.float()
    with torch.no_grad():
        assert torch.allclose(model(X), trained.model(X), atol=1e-5, rtol=0)
    changed = [not torch.equal(a, b) for a, b in zip(params(model), params(trained.model))]
    assert sum(changed) >= 2 * SMALL.depth  # every block's input weights and output weights
    for a, b in zip(model.blocks, trained.model.blocks):  # permutation and scales cancel in W_out W_in
        assert not torch.allclose(a.weight["inp"], b.weight["inp"])
        assert torch.allclose(a.weight["out"] @ a.weight["inp"], b.weight["out"] @ b.weight["inp"], atol=1e-5)


@pytest.mark.parametrize("family", ["gelu", "swiglu", "prenorm"])
def test_reparametrisation_keeps_the_function_of_every_family(tmp_path, family):
    config = dataclasses.replace(SMALL, block=family, perturbations=(parse_perturbation("reparam"),))
    puzzle, answer, _ = build_puzzle(config, cache_dir=tmp_path, progress=False)
    assert mse(puzzle, answer) < 1e-10


def test_pruning_zeroes_the_asked_fraction(trained):
    model = apply_perturbations(
        trained.model, dataclasses.replace(SMALL, perturbations=(parse_perturbation("prune=0.3"),)), trained.teacher
    )
    for new, orig in zip(model.pieces(), trained.model.pieces()):
        w = new.weight
        assert int((w == 0).sum()) == round(0.3 * w.numel())
        kept = w != 0
        assert torch.equal(w[kept], orig.weight[kept])
        assert orig.weight[~kept].abs().max() <= orig.weight[kept].abs().min()


@pytest.mark.parametrize("bits", [2, 4])
def test_quantisation_has_at_most_2_pow_bits_levels(trained, bits):
    model = apply_perturbations(
        trained.model,
        dataclasses.replace(SMALL, perturbations=(parse_perturbation(f"quantize={bits}"),)),
        trained.teacher,
    )
    for q, orig in zip(model.parameters(), trained.model.parameters()):
        levels = len(torch.unique(q))
        assert levels <= 2**bits and (levels > 1 or orig.numel() == 1)
        step = (orig.max() - orig.min()) / (2**bits - 1)
        assert (q - orig).abs().max() <= step / 2 + 1e-6


@pytest.mark.parametrize("sigma", [0.01, 0.1])
def test_noise_changes_weights_by_the_relative_sigma(trained, sigma):
    model = apply_perturbations(
        trained.model,
        dataclasses.replace(SMALL, perturbations=(parse_perturbation(f"noise={sigma}"),)),
        trained.teacher,
    )
    for q, orig in zip(model.parameters(), trained.model.parameters()):
        if orig.numel() >= 60:
            ratio = float((q - orig).detach().norm() / orig.detach().norm())
            assert 0.7 * sigma < ratio < 1.3 * sigma


def test_finetuning_changes_weights_and_keeps_the_original(trained):
    before = params(trained.model)
    model = apply_perturbations(
        trained.model, dataclasses.replace(SMALL, perturbations=(parse_perturbation("finetune=5"),)), trained.teacher
    )
    assert all(not torch.equal(a, b) for a, b in zip(params(model), before))
    assert all(torch.equal(a, b) for a, b in zip(params(trained.model), before))


def test_a_longer_finetuning_continues_a_shorter_one_bit_for_bit(trained):
    """A sweep over step counts costs its largest count: the run of 7 steps continues the run of 3
    (kept in this process), and gives exactly what a run of 7 from the start gives."""
    from generators import perturb

    def tuned(steps: int):
        config = dataclasses.replace(SMALL, perturbations=(parse_perturbation(f"finetune={steps}"),))
        return params(apply_perturbations(trained.model, config, trained.teacher))

    perturb._RUNS.clear()
    fresh = tuned(7)
    perturb._RUNS.clear()
    tuned(3)
    continued = tuned(7)
    assert [run.steps for run in perturb._RUNS.values()] == [7]  # one run, continued
    assert all(torch.equal(a, b) for a, b in zip(continued, fresh))
    assert not all(torch.equal(a, b) for a, b in zip(tuned(3), fresh))  # a shorter run is not cut from a longer one


# --- puzzles, determinism and cache --------------------------------------------------------------


def digest(directory: Path) -> dict[str, str]:
    files = sorted((directory / "pieces").glob("*.pth")) + [directory / "historical_data.csv"]
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_generated_puzzle_loads_and_answer_reproduces_pred(tmp_path, family):
    config = dataclasses.replace(SMALL, block=family)
    out = tmp_path / "p"
    generate(config, out, cache_dir=tmp_path / "cache", progress=False)
    puzzle, answer = load_puzzle(out), load_answer(out)
    assert puzzle.family.name == family and puzzle.depth == SMALL.depth and puzzle.n_rows == SMALL.rows
    n = puzzle.layout.n_pieces
    assert answer is not None and sorted(answer.ids) == list(range(n)) and list(answer.ids) != list(range(n))
    assert mse(puzzle, answer) < 1e-12
    assert float(((puzzle.pred - puzzle.true) ** 2).mean()) > 0  # pred is the model's, not the labels


def test_same_config_gives_identical_bytes_and_reuses_the_cache(tmp_path):
    cache = tmp_path / "cache"
    runs = [
        generate(SMALL, tmp_path / "a", cache_dir=cache, progress=False),
        generate(SMALL, tmp_path / "b", cache_dir=cache, progress=False),
        generate(SMALL, tmp_path / "c", progress=False, use_cache=False),
    ]
    assert [r.cached for r in runs] == [False, True, False]
    files = ("generation.json", "puzzle.json", "answer.json")
    for d in ("b", "c"):  # every file that defines the puzzle, generation.json included, is byte-identical
        assert digest(tmp_path / d) == digest(tmp_path / "a")
        assert all((tmp_path / d / f).read_bytes() == (tmp_path / "a" / f).read_bytes() for f in files)
    generate(dataclasses.replace(SMALL, seed=1), tmp_path / "d", cache_dir=cache, progress=False)
    assert digest(tmp_path / "d") != digest(tmp_path / "a")


def test_generate_never_overwrites_a_directory_it_did_not_write(tmp_path):
    theirs = tmp_path / "theirs"
    (theirs / "pieces").mkdir(parents=True)
    (theirs / "pieces" / "piece_0.pth").write_bytes(b"precious")
    (theirs / "historical_data.csv").write_text("precious")
    (theirs / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty and not a puzzle written by"):
        generate(SMALL, theirs, progress=False)
    assert (theirs / "pieces" / "piece_0.pth").read_bytes() == b"precious"
    generate(SMALL, tmp_path / "ours", progress=False)
    generate(dataclasses.replace(SMALL, seed=1), tmp_path / "ours", progress=False)  # its own puzzle: replaced
    generate(SMALL, theirs, progress=False, force=True)  # asked: the puzzle files go, the rest stays
    assert (theirs / "notes.txt").read_text() == "mine" and load_puzzle(theirs).depth == SMALL.depth
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="exists and is not a directory"):
        generate(SMALL, tmp_path / "file", progress=False)


def test_a_diverging_recipe_is_an_error_and_writes_nothing(tmp_path):
    config = dataclasses.replace(
        SMALL, depth=8, recipe=TrainingRecipe(optimizer="sgd", lr=50.0, epochs=2, batch_size=64)
    )
    with pytest.raises(ConfigError, match="training diverged in epoch 1"):
        generate(config, tmp_path / "p", progress=False, use_cache=False)
    assert not (tmp_path / "p" / "historical_data.csv").exists()


def test_an_unwritable_cache_is_skipped_with_a_warning(tmp_path, caplog):
    cache = tmp_path / "not-a-directory"
    cache.write_text("a file where the cache should be")  # unwritable even for root, unlike chmod
    result = trained_model(SMALL, cache_dir=cache, progress=False)
    assert not result.cached and "could not store the trained model" in caplog.text


@pytest.mark.parametrize("damage", ["flip-byte", "truncate", "drop-sidecar", "garbage-sidecar"])
def test_corrupt_cache_entry_is_rebuilt_not_used(tmp_path, damage):
    cache = ModelCache(tmp_path / "cache")
    first = trained_model(SMALL, cache_dir=cache.root, progress=False)
    weights, sidecar = cache.paths(SMALL.cache_key())
    data = weights.read_bytes()
    if damage == "flip-byte":
        weights.write_bytes(data[:-40] + bytes([data[-40] ^ 0xFF]) + data[-39:])
    elif damage == "truncate":
        weights.write_bytes(data[: len(data) // 2])
    elif damage == "drop-sidecar":
        sidecar.unlink()
    else:
        sidecar.write_text("{not json")
    assert cache.load(SMALL.cache_key()) is None
    again = trained_model(SMALL, cache_dir=cache.root, progress=False)
    assert not again.cached
    assert all(torch.equal(a, b) for a, b in zip(params(first.model), params(again.model)))
    assert (
        cache.load(SMALL.cache_key()) is not None and trained_model(SMALL, cache_dir=cache.root, progress=False).cached
    )


def test_cache_dir_defaults_to_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("REASSEMBLY_CACHE", str(tmp_path / "envcache"))
    trained_model(SMALL, progress=False)
    assert (tmp_path / "envcache" / "models" / f"{SMALL.cache_key()}.json").is_file()


def test_pred_from_perturbed_matches_the_perturbed_pieces(tmp_path):
    pert = (parse_perturbation("noise=0.05"),)
    orig_cfg = dataclasses.replace(SMALL, perturbations=pert)
    puzzle, answer, _ = build_puzzle(orig_cfg, cache_dir=tmp_path, progress=False)
    assert mse(puzzle, answer) > 1e-8
    puzzle2, answer2, _ = build_puzzle(
        dataclasses.replace(orig_cfg, pred_from="perturbed"), cache_dir=tmp_path, progress=False
    )
    assert answer2 == answer and mse(puzzle2, answer2) < 1e-12


def test_gaussian_and_binary_inputs_differ_in_distribution():
    binary, _ = make_dataset(SMALL)
    gaussian, _ = make_dataset(dataclasses.replace(SMALL, inputs="gaussian"))
    assert (binary.X.abs() - 1).abs().mean() < 3 * SMALL.input_noise
    assert (gaussian.X.abs() - 1).abs().mean() > 0.3
    assert len(binary.val) == round(SMALL.rows * SMALL.recipe.val_fraction)
    assert set(binary.train.tolist()).isdisjoint(binary.val.tolist())


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_zero_residual_init_starts_every_block_as_the_identity(family):
    from generators.model import build_model
    from reassembly.families import get_family

    fam = get_family(family)
    sizes = {"d": 6, "h": 12, "o": 1}
    model = build_model(fam, 3, sizes, seed=0, init="zero-residual")
    write = next(s.name for s in fam.slots if s.role == "write")
    assert all(not b.weight[write].any() for b in model.blocks)
    X = torch.randn(5, 6)
    assert torch.equal(X + fam.branch(model.blocks[0].params(), X), X)
    default = build_model(fam, 3, sizes, seed=0, init="default")
    assert all(b.weight[write].any() for b in default.blocks)


def test_recipe_variants_train_and_record_a_loss_curve():
    for recipe in (
        TrainingRecipe(optimizer="sgd", lr=1e-2, epochs=2, batch_size=64, schedule="cosine"),
        TrainingRecipe(optimizer="adamw", epochs=8, batch_size=64, weight_decay=0.1, early_stopping=1),
    ):
        config = dataclasses.replace(SMALL, recipe=recipe, teacher_sees="clean")
        result = trained_model(config, progress=False, use_cache=False)
        assert result.loss_curve[0]["epoch"] == 0 and 2 <= len(result.loss_curve) <= recipe.epochs + 1
        assert result.loss_curve[-1]["train_loss"] < result.loss_curve[0]["train_loss"]
