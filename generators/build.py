"""Train (or fetch from the cache), perturb, disassemble and shuffle: a puzzle and its answer."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from generators.cache import ModelCache, PuzzleFileCache, atomic_write
from generators.config import PuzzleConfig
from generators.data import Dataset, Teacher, make_dataset
from generators.model import ResNet, build_model
from generators.perturb import apply_perturbations
from generators.seeding import generator
from generators.train import single_thread, train
from reassembly.answer import ANSWER_NAME, Answer, save_answer
from reassembly.loader import CSV_NAME, PIECES_DIR, save_puzzle
from reassembly.network import forward
from reassembly.puzzle import Piece, Puzzle

METADATA_NAME = "generation.json"


@dataclass
class TrainedModel:
    """A trained model with its data, teacher and loss curve; ``cached`` if it came from the cache."""

    model: ResNet
    data: Dataset
    teacher: Teacher
    loss_curve: list[dict]
    cached: bool
    seconds: float


def trained_model(config: PuzzleConfig, cache_dir: str | Path | None = None, progress: bool = True, use_cache: bool = True) -> TrainedModel:
    """Train the model of ``config``, or load it from the cache (keyed by the training options)."""
    t0 = time.perf_counter()
    data, teacher = make_dataset(config)
    model = build_model(config.depth, config.width, config.hidden, config.output, config.seed, config.recipe.init)
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
    curve = train(model, data, config.recipe, config.seed, progress=progress)
    model.eval()
    if cache:
        cache.store(key, model.state_dict(), {"config": config.training_dict(), "loss_curve": curve})
    return TrainedModel(model, data, teacher, curve, False, time.perf_counter() - t0)


def _layers(model: ResNet) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(layer.weight.detach().to(torch.float32).clone(), layer.bias.detach().to(torch.float32).clone()) for layer in model.layers()]


def shuffled_ids(config: PuzzleConfig) -> list[int]:
    """``ids[j]``: the piece number of the ``j``-th layer in network order (the answer permutation)."""
    return [int(i) for i in torch.randperm(2 * config.depth + 1, generator=generator(config.seed, "shuffle"))]


def _puzzle(layers: list[tuple[torch.Tensor, torch.Tensor]], ids: list[int], data: Dataset, pred: torch.Tensor, name: str) -> Puzzle:
    pieces = [Piece(index=ids[j], weight=w, bias=b) for j, (w, b) in enumerate(layers)]
    return Puzzle(pieces=tuple(pieces), X=data.X.clone(), pred=pred, true=data.true.clone(), name=name)


def build_puzzle(
    config: PuzzleConfig, cache_dir: str | Path | None = None, progress: bool = True, use_cache: bool = True
) -> tuple[Puzzle, Answer]:
    """The shuffled puzzle of ``config`` and its answer, in memory.

    ``pred`` is the float64 output, on all rows, of the float32 pieces of the original model
    (``pred_from="original"``) or of the perturbed one (``"perturbed"``).
    """
    return _build(config, cache_dir, progress, use_cache)[:2]


def _build(config: PuzzleConfig, cache_dir, progress: bool, use_cache: bool) -> tuple[Puzzle, Answer, TrainedModel]:
    trained = trained_model(config, cache_dir, progress, use_cache)
    ids = shuffled_ids(config)
    answer = Answer.from_permutation(ids)
    placeholder = torch.zeros(config.rows, config.output, dtype=torch.float64)
    original = _puzzle(_layers(trained.model), ids, trained.data, placeholder, "original")
    perturbed_layers = _layers(apply_perturbations(trained.model, config, trained.teacher)) if config.perturbations else None
    source = original
    if perturbed_layers is not None and config.pred_from == "perturbed":
        source = _puzzle(perturbed_layers, ids, trained.data, placeholder, "perturbed")
    with single_thread():  # small matrices: one thread is faster on a shared machine
        pred = forward(source, answer.permutation)
    puzzle = _puzzle(perturbed_layers or _layers(trained.model), ids, trained.data, pred, f"depth{config.depth}-seed{config.seed}")
    return puzzle, answer, trained


def generate(
    config: PuzzleConfig, out_dir: str | Path, cache_dir: str | Path | None = None, progress: bool = True, use_cache: bool = True
) -> Path:
    """Write the puzzle of ``config`` to ``out_dir``: ``pieces/``, ``historical_data.csv``, ``answer.json``
    (ground truth: never for solvers) and ``generation.json`` (options and loss curve).

    Earlier generator files in ``out_dir`` (``pieces/piece_*.pth`` and the three files) are replaced.
    With the cache on, the written files are kept too (keyed by every option) and a later call with
    the same configuration copies them after checking their SHA-256s.
    """
    t0 = time.perf_counter()
    root = Path(out_dir)
    for stale in (root / PIECES_DIR).glob("piece_*.pth") if (root / PIECES_DIR).is_dir() else ():
        stale.unlink()
    for name in (CSV_NAME, ANSWER_NAME, METADATA_NAME):
        (root / name).unlink(missing_ok=True)
    files = PuzzleFileCache(cache_dir) if use_cache else None
    key = config.puzzle_key()
    meta = files.restore(key, root) if files else None
    if meta is not None:
        meta = {**meta, "from_cache": True, "seconds": time.perf_counter() - t0}
    else:
        puzzle, answer, trained = _build(config, cache_dir, progress, use_cache)
        save_puzzle(puzzle, root)
        save_answer(answer, root)
        meta = {
            "config": config.to_dict(),
            "loss_curve": trained.loss_curve,
            "from_cache": trained.cached,
            "train_seconds": trained.seconds,
        }
        if files:
            rels = [f"{PIECES_DIR}/piece_{i}.pth" for i in range(2 * config.depth + 1)] + [CSV_NAME, ANSWER_NAME]
            files.store(key, root, rels, meta)
        meta["seconds"] = time.perf_counter() - t0
    atomic_write(root / METADATA_NAME, (json.dumps(meta, indent=1) + "\n").encode())
    return root
