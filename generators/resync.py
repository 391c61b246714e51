"""Re-synchronisation problems: a trained network, and a copy whose hidden units are permuted in
every block and then perturbed (the configuration's perturbations, in order, after permuting)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from generators.build import TrainedModel, trained_model
from generators.config import PuzzleConfig
from generators.model import FamilyNet
from generators.output import METADATA_NAME, fresh_directory
from generators.perturb import apply_perturbations, transform_units
from generators.seeding import generator
from reassembly.answer import ANSWER_NAME
from reassembly.errors import ConfigError
from reassembly.resync.network import tensor_name
from reassembly.resync.problem import ResyncAnswer, ResyncProblem, save_answer, save_problem


def flat_state(model: FamilyNet) -> dict[str, torch.Tensor]:
    """The model's tensors under :mod:`reassembly.resync.network` names, as float32 copies."""
    out = {}
    for where, group, slots in [
        *((f"blocks.{k}", b, model.family.slots) for k, b in enumerate(model.blocks)),
        ("head", model.head, model.family.head_slots),
    ]:
        for s in slots:
            out[tensor_name(where, s.name)] = group.weight[s.name].detach().float().clone()
            if s.name in group.bias:
                out[tensor_name(where, s.name, "bias")] = group.bias[s.name].detach().float().clone()
    return out


def permuted_copy(trained: TrainedModel, config: PuzzleConfig) -> tuple[FamilyNet, list[torch.Tensor]]:
    """A copy of the trained model with each block's hidden units permuted (their own random
    stream): the copy's unit ``j`` is the reference's unit ``perms[k][j]``."""
    import copy as copying

    shuffled = copying.deepcopy(trained.model)
    gen = generator(config.seed, "resync:permute")
    perms = [torch.randperm(config.hidden, generator=gen) for _ in range(config.depth)]
    for k, p in enumerate(perms):
        transform_units(shuffled, k, p)
    return shuffled, perms


def problem_of(
    trained: TrainedModel,
    config: PuzzleConfig,
    copy: FamilyNet,
    perms: list[torch.Tensor],
    rescaled: list[tuple[int, int]] = (),
) -> tuple[ResyncProblem, ResyncAnswer]:
    """The problem of reference ``trained.model`` and ``copy`` (permuted by ``perms``), and its
    answer (``rescaled``: attacked units in the copy's numbering)."""
    moved = sorted((k, int(perms[k][j])) for k, j in rescaled)
    answer = ResyncAnswer(tuple(tuple(int(i) for i in torch.argsort(p)) for p in perms), tuple(moved))
    problem = ResyncProblem(
        trained.model.family,
        config.depth,
        flat_state(trained.model),
        flat_state(copy),
        trained.data.X.float().double(),
        name=f"resync-{config.block}-depth{config.depth}-seed{config.seed}",
    )
    return problem, answer


def build_resync(
    config: PuzzleConfig,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    use_cache: bool = True,
    label: str | None = None,
) -> tuple[ResyncProblem, ResyncAnswer, TrainedModel]:
    """The problem of ``config``: the trained model as reference; a copy with each block's hidden
    units permuted, then ``config.perturbations`` applied to it in order."""
    trained = trained_model(config, cache_dir, progress, use_cache, label)
    shuffled, perms = permuted_copy(trained, config)
    record: dict = {}
    perturbed = apply_perturbations(shuffled, config, trained.teacher, record)
    problem, answer = problem_of(trained, config, perturbed, perms, record.get("rescaled", []))
    return problem, answer, trained


def generate_resync(
    config: PuzzleConfig,
    out_dir: str | Path,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    use_cache: bool = True,
    force: bool = False,
    label: str | None = None,
    *,
    source: str | None = None,
    layers: int | None = None,
    length: int = 32,
    rows: int | None = None,
) -> TrainedModel | None:
    """Write the problem of ``config`` into the new or empty directory ``out_dir`` with its
    ``answer.json`` (never for solvers) and ``generation.json``.

    Parameters
    ----------
    config
        The synthetic network's configuration and the perturbations (with ``source``: only its
        seed and perturbations count).
    out_dir, cache_dir, progress, use_cache, force, label
        As for :func:`generators.build.generate`.
    source
        A real network (``minilm`` or ``smollm2``, fetched into ``cache_dir``) instead of a
        trained one: the task options of ``bench --task resync --from NAME`` (:mod:`generators.real.resync`).
    layers
        With ``source``: its first ``layers`` layers (default all).
    length, rows
        With ``source``: tokens per sequence and sequences (default per network).

    Returns
    -------
    The trained model (``None`` for a real network).
    """
    if source is not None:
        from generators.real.build import RealConfig
        from generators.real.resync import generate_real_resync

        real = RealConfig(source, seed=config.seed, rows=rows, length=length, layers=layers)
        generate_real_resync(real, out_dir, config.perturbations, cache_dir, force)
        return None
    if layers is not None or rows is not None or length != 32:
        raise ConfigError("task options layers, length and rows go with source (a real network)")
    root = fresh_directory(Path(out_dir), force)
    problem, answer, trained = build_resync(config, cache_dir, progress, use_cache, label)
    save_problem(problem, root)
    save_answer(answer, root / ANSWER_NAME)
    (root / METADATA_NAME).write_text(
        json.dumps({"config": config.to_dict(), "loss_curve": trained.loss_curve}, indent=1) + "\n"
    )
    return trained
