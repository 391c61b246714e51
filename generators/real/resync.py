"""``reassembly bench --task resync --from minilm|smollm2``: a real transformer's layers as the
reference, and a copy with every layer's attention heads (key-value heads with their query heads,
and the query heads within them, for grouped attention) and MLP hidden units permuted, then
perturbed: noise, quantisation, magnitude pruning (:func:`generators.perturb.perturb_tensors`)
and, for a language model, fine-tuning on the puzzle's sequences (:mod:`generators.real.finetune`).
The inputs are token sequences of the network's text, as the real layer-reassembly puzzles have
(:mod:`generators.real.build`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import torch

from generators.config import Perturbation
from generators.output import METADATA_NAME, fresh_directory
from generators.perturb import TENSOR_PERTURBATIONS, perturb_tensors
from generators.real.build import RealConfig, sequences, truncated
from generators.real.fetch import require, source
from generators.real.finetune import finetune_copy
from generators.real.models import READERS
from generators.seeding import generator
from reassembly.answer import ANSWER_NAME
from reassembly.resync.network import block_groups, check_state, tensor_name
from reassembly.resync.problem import ResyncAnswer, ResyncProblem, save_answer, save_problem
from reassembly.resync.units import draw_perms, permute_state


def layer_state(layers: list[dict]) -> dict[str, torch.Tensor]:
    """The layers' tensors under :mod:`reassembly.resync.network` names (float32).

    Parameters
    ----------
    layers
        Per layer, slot -> ``(weight, bias or None)``.
    """
    out = {}
    for k, layer in enumerate(layers):
        for slot, (w, b) in layer.items():
            out[tensor_name(f"blocks.{k}", slot)] = w.float().clone()
            if b is not None:
                out[tensor_name(f"blocks.{k}", slot, "bias")] = b.float().clone()
    return out


def build_real_resync(
    config: RealConfig, perturbations: Sequence[Perturbation] = (), cache_dir: str | Path | None = None
) -> tuple[ResyncProblem, ResyncAnswer, dict]:
    """The problem of ``config`` with ``perturbations`` applied to the permuted copy, its answer and
    what ``generation.json`` records.

    Parameters
    ----------
    config
        The network, seed (permutations, perturbations' streams, text windows), sequences and layers.
    perturbations
        Noise, quantisation, pruning or fine-tuning (steps), applied in order after permuting.
    cache_dir
        The cache holding the fetched weights.
    """
    for p in perturbations:  # refused before the weights are read
        if p.kind not in (*TENSOR_PERTURBATIONS, "finetune"):
            perturb_tensors([], p, torch.Generator())
    model = READERS[config.source](require(config.source, cache_dir))
    family, layers = model.family, truncated(model.layers, config)
    tokens, fixed, vocab = sequences(model, config)
    reference = layer_state(layers)
    groups = block_groups(family, len(layers), check_state(family, len(layers), reference, config.source))
    perms = draw_perms(groups, generator(config.seed, "resync:permute"))
    copy = {k: v.clone() for k, v in permute_state(reference, groups, perms).items()}
    losses = {}
    for i, p in enumerate(perturbations):  # each with its stream, as a synthetic copy's
        if p.kind == "finetune":
            losses[str(p)] = finetune_copy(family, len(layers), copy, fixed, tokens, int(p.value))[
                :: max(1, int(p.value) // 10)
            ]
        else:
            perturb_tensors([copy[k] for k in sorted(copy)], p, generator(config.seed, f"perturb:{i}:{p.kind}"))
    name = f"resync-{config.source}{'' if config.layers is None else f'-l{config.layers}'}-seed{config.seed}"
    problem = ResyncProblem(family, len(layers), reference, copy, None, name, fixed, tokens)
    answer = ResyncAnswer(tuple(tuple(int(i) for i in torch.argsort(p)) for p in perms))
    meta = {
        "config": asdict(config),
        "perturbations": [str(p) for p in perturbations],
        "finetune_loss": losses,
        "source": {"requirement": source(config.source).requirement, **model.about},
        "groups": [g.name for g in groups],
        "vocab": vocab.tolist(),
    }
    return problem, answer, meta


def generate_real_resync(
    config: RealConfig,
    out_dir: str | Path,
    perturbations: Sequence[Perturbation] = (),
    cache_dir: str | Path | None = None,
    force: bool = False,
) -> ResyncProblem:
    """Write the problem of ``config`` into the new or empty directory ``out_dir`` with its
    ``answer.json`` (never for solvers) and ``generation.json``.

    Parameters
    ----------
    config, perturbations, cache_dir
        As for :func:`build_real_resync`.
    out_dir
        The directory.
    force
        Replace the files of a directory this generator did not write.
    """
    root = fresh_directory(Path(out_dir), force)
    problem, answer, meta = build_real_resync(config, perturbations, cache_dir)
    save_problem(problem, root)
    save_answer(answer, root / ANSWER_NAME)
    (root / METADATA_NAME).write_text(json.dumps(meta) + "\n")
    return problem
