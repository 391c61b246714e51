"""Post-training perturbations (the "Find the Lady" set), applied to a copy of the trained model."""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from generators.config import Perturbation, PuzzleConfig
from generators.data import Teacher, fresh_batch
from generators.model import FamilyNet
from generators.seeding import generator
from generators.train import make_optimizer
from reassembly.errors import ConfigError


@torch.no_grad()
def add_noise(tensors: Iterable[torch.Tensor], sigma: float, gen: torch.Generator) -> None:
    """Add Gaussian noise of ``sigma`` times each tensor's RMS, in place: ``||ΔW||_F ≈ sigma ||W||_F``.

    Parameters
    ----------
    tensors
        The tensors (a model's parameters), changed in place in this order.
    sigma
        Relative standard deviation.
    gen
        The random stream.
    """
    for p in tensors:
        rms = p.pow(2).mean().sqrt()
        p.add_(sigma * rms * torch.randn(p.shape, generator=gen, dtype=p.dtype))


@torch.no_grad()
def quantize(tensors: Iterable[torch.Tensor], bits: int) -> None:
    """Uniform quantisation of every tensor, in place, to at most ``2**bits`` levels spanning its [min, max].

    Parameters
    ----------
    tensors
        The tensors (a model's parameters).
    bits
        Bits per entry.
    """
    levels = 2 ** int(bits)
    for p in tensors:
        lo, hi = p.min(), p.max()
        if hi <= lo:
            continue
        step = (hi - lo) / (levels - 1)
        p.copy_(lo + torch.round((p - lo) / step).clamp(0, levels - 1) * step)


@torch.no_grad()
def prune(tensors: Iterable[torch.Tensor], fraction: float) -> None:
    """Zero the ``round(fraction * n)`` smallest-magnitude entries of each weight matrix, in place
    (tensors of another rank, biases and norm gains, are kept).

    Parameters
    ----------
    tensors
        The tensors (a model's weights).
    fraction
        Share of each matrix's entries zeroed.
    """
    for w in tensors:
        k = round(fraction * w.numel())
        if w.ndim == 2 and k:
            idx = torch.argsort(w.abs().flatten(), stable=True)[:k]
            w.view(-1)[idx] = 0.0


@dataclass
class _FinetuneRun:
    """Where a fine-tuning run stopped: enough to continue it exactly (weights, optimiser, random stream)."""

    steps: int
    model: dict[str, torch.Tensor]
    optimizer: dict
    gen: torch.Tensor


#: The latest fine-tuning runs of this process, by what they started from (a few, least recent dropped):
#: a run of ``k`` steps continues one of ``j <= k`` steps instead of starting over, so a sweep over step
#: counts costs its largest count, not their sum. The results are those of a run from the start.
_RUNS: OrderedDict[str, _FinetuneRun] = OrderedDict()
_KEPT_RUNS = 4


def _run_key(model: nn.Module, config: PuzzleConfig, gen: torch.Generator) -> str:
    """A digest of everything a fine-tuning run depends on besides its length."""
    h = hashlib.sha256(
        json.dumps(
            {k: v for k, v in config.to_dict().items() if k != "perturbations"}, sort_keys=True, default=str
        ).encode()
    )
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    h.update(gen.get_state().numpy().tobytes())
    return h.hexdigest()


def finetune(model: nn.Module, steps: int, config: PuzzleConfig, teacher: Teacher, gen: torch.Generator) -> None:
    """``steps`` optimiser steps of the training recipe on fresh batches from the same distribution.

    A run's first ``k`` steps are the run of ``k`` steps: where this process fine-tuned the same
    start (same weights, configuration and random stream) for at most ``steps`` steps lately, the
    run continues from there (bit for bit the same result: ``tests/test_generators.py``).

    Parameters
    ----------
    model
        The network, changed in place.
    steps
        Optimiser steps (>= 0).
    config
        Its configuration: the training recipe and the data distribution.
    teacher
        The function that labels fresh rows.
    gen
        The run's random stream (advanced as a run of ``steps`` steps would).
    """
    key = _run_key(model, config, gen)
    opt = make_optimizer(config.recipe, model.parameters())
    start = 0
    done = _RUNS.get(key)
    if done is not None and done.steps <= steps:
        model.load_state_dict(done.model)
        opt.load_state_dict(done.optimizer)
        gen.set_state(done.gen)
        start = done.steps
    model.train()
    for _ in range(start, int(steps)):
        X, y = fresh_batch(config, teacher, config.recipe.batch_size, gen)
        loss = nn.functional.mse_loss(model(X.float()), y.float())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.eval()
    _RUNS[key] = _FinetuneRun(
        int(steps), copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict()), gen.get_state()
    )
    _RUNS.move_to_end(key)
    while len(_RUNS) > _KEPT_RUNS:
        _RUNS.popitem(last=False)


@torch.no_grad()
def transform_units(
    model: FamilyNet,
    k: int,
    perm: torch.Tensor | None = None,
    log_scale: torch.Tensor | None = None,
    powers: dict[str, int] | None = None,
) -> None:
    """Reorder block ``k``'s hidden units (unit ``i`` becomes the old unit ``perm[i]``) and multiply
    unit ``i`` by ``exp(power * log_scale[i])`` in every slot that has them (``powers``: per slot)."""
    block, h = model.blocks[k], model.sizes["h"]
    idx = torch.arange(h) if perm is None else perm
    for slot in model.family.slots:
        if slot.hidden_axis is None:
            continue
        w = block.weight[slot.name]
        power = (powers or {}).get(slot.name, 0)
        s = torch.ones(h, dtype=w.dtype) if log_scale is None else (power * log_scale).exp().to(w.dtype)
        shape = [1] * w.ndim
        shape[slot.hidden_axis] = h
        w.copy_(w.index_select(slot.hidden_axis, idx) * s.view(shape))
        if slot.name in block.bias and slot.hidden_axis == 0:
            block.bias[slot.name].copy_(block.bias[slot.name][idx] * s)


@torch.no_grad()
def reparametrise(model: FamilyNet, gen: torch.Generator, max_scale: float = 2.0) -> None:
    """Permute each block's hidden units and, where the family allows it (``family.rescaling``),
    rescale each by a factor in [1/max_scale, max_scale]: the network computes the same function."""
    h = model.sizes["h"]
    for k in range(len(model.blocks)):
        perm = torch.randperm(h, generator=gen)
        log_s = (torch.rand(h, generator=gen, dtype=torch.float64) * 2 - 1) * math.log(max_scale)
        transform_units(model, k, perm, log_s, model.family.rescaling)


@torch.no_grad()
def rescale_attack(
    model: FamilyNet, fraction: float, gen: torch.Generator, low: float = 2.0, high: float = 4.0
) -> list[tuple[int, int]]:
    """The integrity attack of "Find the Lady": in each block, ``fraction`` of the hidden units (at
    least one) multiplied by a factor in [low, high] or its inverse. Where the family allows it the
    unit is rescaled without changing the function (read slots by ``s``, write slots by ``1/s``),
    else only its read slots are scaled. Each unit keeps cosine 1 with itself; its norm changes.
    Returns the attacked ``(block, unit)`` pairs."""
    family, h = model.family, model.sizes["h"]
    powers = family.rescaling or {s.name: 1 for s in family.slots if s.role == "read"}
    attacked = []
    for k in range(len(model.blocks)):
        units = torch.randperm(h, generator=gen)[: max(1, round(fraction * h))]
        size = torch.rand(len(units), generator=gen, dtype=torch.float64) * math.log(high / low) + math.log(low)
        sign = torch.randint(0, 2, (len(units),), generator=gen).double() * 2 - 1
        log_s = torch.zeros(h, dtype=torch.float64)
        log_s[units] = sign * size
        transform_units(model, k, None, log_s, powers)
        attacked += [(k, int(u)) for u in units]
    return attacked


def apply_perturbations(
    model: FamilyNet, config: PuzzleConfig, teacher: Teacher, record: dict | None = None
) -> FamilyNet:
    """A perturbed copy of ``model``: ``config.perturbations`` in order, each with its own random
    stream. ``record`` (where given) receives ``rescaled``: the units an attack rescaled."""
    model = copy.deepcopy(model)
    for i, p in enumerate(config.perturbations):
        done = apply_one(model, p, config, teacher, generator(config.seed, f"perturb:{i}:{p.kind}"))
        if record is not None and done:
            record.setdefault("rescaled", []).extend(done)
    return model


def apply_one(
    model: FamilyNet, p: Perturbation, config: PuzzleConfig, teacher: Teacher, gen: torch.Generator
) -> list[tuple[int, int]] | None:
    """Apply one perturbation; an attack returns the units it rescaled."""
    if p.kind == "noise":
        add_noise(model.parameters(), float(p.value), gen)
    elif p.kind == "quantize":
        quantize(model.parameters(), int(p.value))
    elif p.kind == "prune":
        prune((w for group in model.groups() for w in group.weight.values()), float(p.value))
    elif p.kind == "finetune":
        finetune(model, int(p.value), config, teacher, gen)
    elif p.kind == "rescale":
        return rescale_attack(model, float(p.value), gen)
    else:
        reparametrise(model, gen)
    return None


#: What a copy given as tensors alone (a real network's layers) can undergo besides fine-tuning on
#: its own sequences (:mod:`generators.real.finetune`): no training recipe, teacher or rescaling
#: symmetry comes with it.
TENSOR_PERTURBATIONS = ("noise", "quantize", "prune")


def perturb_tensors(tensors: list[torch.Tensor], p: Perturbation, gen: torch.Generator) -> None:
    """Apply ``p`` to ``tensors`` in place: noise and quantisation to every tensor, pruning to the
    matrices (as :func:`apply_one` does to a model's).

    Parameters
    ----------
    tensors
        The copy's tensors, in a fixed order.
    p
        Noise, quantisation or pruning (anything else: a :class:`ConfigError`).
    gen
        Its random stream (as :func:`apply_perturbations` gives it: ``perturb:<i>:<kind>``).
    """
    if p.kind == "noise":
        add_noise(tensors, float(p.value), gen)
    elif p.kind == "quantize":
        quantize(tensors, int(p.value))
    elif p.kind == "prune":
        prune(tensors, float(p.value))
    else:
        raise ConfigError(
            f"perturbation {p}: a real network's copy takes {', '.join(TENSOR_PERTURBATIONS)} or finetune "
            "(no training recipe or rescaling symmetry comes with it)"
        )
