"""Post-training perturbations (the "Find the Lady" set), applied to a copy of the trained model."""
from __future__ import annotations

import copy
import math

import torch
from torch import nn

from generators.config import Perturbation, PuzzleConfig
from generators.data import Teacher, fresh_batch
from generators.model import FamilyNet
from generators.seeding import generator
from generators.train import make_optimizer


@torch.no_grad()
def add_noise(model: nn.Module, sigma: float, gen: torch.Generator) -> None:
    """Add Gaussian noise of ``sigma`` times each tensor's RMS: ``||ΔW||_F ≈ sigma ||W||_F``."""
    for p in model.parameters():
        rms = p.pow(2).mean().sqrt()
        p.add_(sigma * rms * torch.randn(p.shape, generator=gen, dtype=p.dtype))


@torch.no_grad()
def quantize(model: nn.Module, bits: int) -> None:
    """Uniform quantisation of every tensor to at most ``2**bits`` levels spanning its [min, max]."""
    levels = 2 ** int(bits)
    for p in model.parameters():
        lo, hi = p.min(), p.max()
        if hi <= lo:
            continue
        step = (hi - lo) / (levels - 1)
        p.copy_(lo + torch.round((p - lo) / step).clamp(0, levels - 1) * step)


@torch.no_grad()
def prune(model: FamilyNet, fraction: float) -> None:
    """Zero the ``round(fraction * n)`` smallest-magnitude entries of each weight matrix (biases and norm gains kept)."""
    for group in model.groups():
        for w in group.weight.values():
            k = round(fraction * w.numel())
            if w.ndim == 2 and k:
                idx = torch.argsort(w.abs().flatten(), stable=True)[:k]
                w.view(-1)[idx] = 0.0


def finetune(model: nn.Module, steps: int, config: PuzzleConfig, teacher: Teacher, gen: torch.Generator) -> None:
    """``steps`` optimiser steps of the training recipe on fresh batches from the same distribution."""
    opt = make_optimizer(config.recipe, model.parameters())
    model.train()
    for _ in range(int(steps)):
        X, y = fresh_batch(config, teacher, config.recipe.batch_size, gen)
        loss = nn.functional.mse_loss(model(X.float()), y.float())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.eval()


@torch.no_grad()
def reparametrise(model: FamilyNet, gen: torch.Generator, max_scale: float = 2.0) -> None:
    """Permute each block's hidden units and, where the family allows it (``family.rescaling``),
    rescale each by a factor in [1/max_scale, max_scale]: the network computes the same function."""
    family = model.family
    for block in model.blocks:
        h = model.sizes["h"]
        perm = torch.randperm(h, generator=gen)
        log_s = (torch.rand(h, generator=gen, dtype=torch.float64) * 2 - 1) * math.log(max_scale)
        for slot in family.slots:
            if slot.hidden_axis is None:
                continue
            w = block.weight[slot.name]
            power = family.rescaling.get(slot.name, 0)
            s = (power * log_s).exp().to(w.dtype)
            shape = [1] * w.ndim
            shape[slot.hidden_axis] = h
            w.copy_(w.index_select(slot.hidden_axis, perm) * s.view(shape))
            if slot.name in block.bias and slot.hidden_axis == 0:
                block.bias[slot.name].copy_(block.bias[slot.name][perm] * s)


def apply_perturbations(model: FamilyNet, config: PuzzleConfig, teacher: Teacher) -> FamilyNet:
    """A perturbed copy of ``model``: ``config.perturbations`` in order, each with its own random stream."""
    model = copy.deepcopy(model)
    for i, p in enumerate(config.perturbations):
        apply_one(model, p, config, teacher, generator(config.seed, f"perturb:{i}:{p.kind}"))
    return model


def apply_one(model: FamilyNet, p: Perturbation, config: PuzzleConfig, teacher: Teacher, gen: torch.Generator) -> None:
    if p.kind == "noise":
        add_noise(model, float(p.value), gen)
    elif p.kind == "quantize":
        quantize(model, int(p.value))
    elif p.kind == "prune":
        prune(model, float(p.value))
    elif p.kind == "finetune":
        finetune(model, int(p.value), config, teacher, gen)
    else:
        reparametrise(model, gen)
