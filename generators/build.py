"""Train (or fetch from the cache), perturb, disassemble and shuffle: a puzzle and its answer."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from generators.cache import ModelCache
from generators.config import PuzzleConfig
from generators.data import Dataset, Teacher, make_dataset
from generators.model import FamilyNet, build_model
from generators.output import METADATA_NAME, claim_directory
from generators.perturb import apply_perturbations
from generators.seeding import generator
from generators.train import single_thread, train
from reassembly.answer import ANSWER_NAME, Answer, Assembly, save_answer
from reassembly.families import get_family
from reassembly.loader import save_puzzle
from reassembly.puzzle import Piece, Puzzle
from reassembly.scoring import outputs


@dataclass
class TrainedModel:
    """A trained model with its data, teacher and loss curve; ``cached`` if it came from the cache."""

    model: FamilyNet
    data: Dataset
    teacher: Teacher
    loss_curve: list[dict]
    cached: bool
    seconds: float


def sizes(config: PuzzleConfig) -> dict[str, int]:
    return {"d": config.width, "h": config.hidden, "o": config.output}


def trained_model(
    config: PuzzleConfig,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    use_cache: bool = True,
    label: str | None = None,
) -> TrainedModel:
    """Train the model of ``config``, or load it from the cache (keyed by the training options).
    ``label`` names the run on the progress bar."""
    t0 = time.perf_counter()
    data, teacher = make_dataset(config)
    model = build_model(get_family(config.block), config.depth, sizes(config), config.seed, config.recipe.init)
    cache = ModelCache(cache_dir) if use_cache else None
    key = config.cache_key()
    entry = cache.load(key) if cache else None
    if entry is not None:
        try:
            model.load_state_dict(entry.state)
            model.eval()
            return TrainedModel(model, data, teacher, entry.meta.get("loss_curve", []), True, time.perf_counter() - t0)
        except RuntimeError:  # shapes do not match: treat as corrupt
            pass
    label = label or f"training {config.block} depth {config.depth} seed {config.seed}"
    curve = train(model, data, config.recipe, config.seed, progress=progress, label=label)
    model.eval()
    if cache:
        cache.store(key, model.state_dict(), {"config": config.training_dict(), "loss_curve": curve})
    return TrainedModel(model, data, teacher, curve, False, time.perf_counter() - t0)


def shuffled_ids(n_pieces: int, seed: int) -> list[int]:
    """``ids[j]``: the piece number of the ``j``-th piece in network order."""
    return [int(i) for i in torch.randperm(n_pieces, generator=generator(seed, "shuffle"))]


def _puzzle(model: FamilyNet, ids: list[int], data: Dataset, pred: torch.Tensor, name: str) -> Puzzle:
    pieces = [Piece(index=ids[j], weight=p.weight, bias=p.bias) for j, p in enumerate(model.pieces())]
    return Puzzle(
        pieces=tuple(pieces), X=data.X.clone(), pred=pred, true=data.true.clone(), name=name, family=model.family
    )


def build_puzzle(
    config: PuzzleConfig,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    use_cache: bool = True,
    label: str | None = None,
) -> tuple[Puzzle, Answer, TrainedModel]:
    """The shuffled puzzle of ``config``, its answer and the trained model, in memory.

    ``pred`` is the float64 output, on all rows, of the float32 pieces of the original model
    (``pred_from="original"``) or of the perturbed one (``"perturbed"``).
    """
    trained = trained_model(config, cache_dir, progress, use_cache, label)
    S = len(trained.model.family.slots)
    ids = shuffled_ids(config.depth * S + len(trained.model.family.head_slots), config.seed)
    truth = Assembly(
        tuple(tuple(ids[S * k : S * (k + 1)]) for k in range(config.depth)), tuple(ids[S * config.depth :])
    )
    placeholder = torch.zeros(config.rows, config.output, dtype=torch.float64)
    original = _puzzle(trained.model, ids, trained.data, placeholder, "original")
    perturbed = apply_perturbations(trained.model, config, trained.teacher) if config.perturbations else None
    source = (
        _puzzle(perturbed, ids, trained.data, placeholder, "perturbed")
        if perturbed and config.pred_from == "perturbed"
        else original
    )
    with single_thread():  # small matrices: one thread is faster on a shared machine
        pred = outputs(source, truth)
    puzzle = _puzzle(
        perturbed or trained.model, ids, trained.data, pred, f"{config.block}-depth{config.depth}-seed{config.seed}"
    )
    return puzzle, Answer.of(truth), trained


def generate(
    config: PuzzleConfig,
    out_dir: str | Path,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    use_cache: bool = True,
    force: bool = False,
    label: str | None = None,
) -> TrainedModel:
    """Write the puzzle of ``config`` into ``out_dir``: ``pieces/``, ``historical_data.csv``,
    ``puzzle.json``, ``answer.json`` (ground truth: never for solvers) and ``generation.json``
    (options and loss curve; nothing about this run, so equal options give byte-identical files).

    ``out_dir`` must be new, empty, or a puzzle this function wrote; ``force`` replaces the
    puzzle files of any other directory (and nothing else in it). Returns the trained model
    (whether it came from the cache, and how long that took).
    """
    root = claim_directory(Path(out_dir), force)
    puzzle, answer, trained = build_puzzle(config, cache_dir, progress, use_cache, label)
    save_puzzle(puzzle, root)
    save_answer(answer, root / ANSWER_NAME)
    meta = {"config": config.to_dict(), "loss_curve": trained.loss_curve}
    (root / METADATA_NAME).write_text(json.dumps(meta, indent=1) + "\n")
    return trained
