"""Black-box reconstruction problems: a small ReLU network ``d``-``h``-``o`` (the configuration's
``width``, ``hidden`` and ``output``) trained on the configuration's synthetic data, kept as the
answer; the problem states only its sizes and the query budget."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from generators.config import PuzzleConfig
from generators.data import make_dataset
from generators.output import METADATA_NAME, fresh_directory
from generators.train import train
from reassembly.answer import ANSWER_NAME
from reassembly.errors import ConfigError
from reassembly.query.blackbox import BlackboxProblem, save_answer, save_problem

DEFAULT_BUDGET = 20_000


def relu_mlp(d: int, h: int, o: int, seed: int) -> nn.Sequential:
    """``Linear(d, h)``, ReLU, ``Linear(h, o)`` initialised as PyTorch does, from ``seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, o))


def build_blackbox(config: PuzzleConfig, budget: int = DEFAULT_BUDGET, progress: bool = True,
                   label: str | None = None) -> tuple[BlackboxProblem, dict[str, torch.Tensor], list[dict]]:
    """The problem, the trained network's parameters (float64 copies of its float32 ones) and its loss curve."""
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ConfigError(f"black-box budget must be an integer >= 1 (rows the oracle answers), got {budget!r}")
    data, _ = make_dataset(config)
    model = relu_mlp(config.width, config.hidden, config.output, config.seed)
    curve = train(model, data, config.recipe, config.seed, progress=progress, label=label or f"training black box seed {config.seed}")
    first, last = model[0], model[2]
    params = {"W1": first.weight, "b1": first.bias, "W2": last.weight, "b2": last.bias}
    params = {k: v.detach().double().clone() for k, v in params.items()}
    problem = BlackboxProblem(config.width, config.hidden, config.output, budget,
                              name=f"blackbox-{config.width}-{config.hidden}-{config.output}-seed{config.seed}")
    return problem, params, curve


def generate_blackbox(config: PuzzleConfig, out_dir: str | Path, cache_dir: str | Path | None = None, progress: bool = True,
                      use_cache: bool = True, force: bool = False, label: str | None = None,
                      budget: int = DEFAULT_BUDGET) -> None:
    """Write the problem of ``config`` into the new or empty ``out_dir`` with ``answer.json`` (never
    for solvers) and ``generation.json``. (Small networks train in seconds: no model cache.)"""
    root = fresh_directory(Path(out_dir), force)
    problem, params, curve = build_blackbox(config, budget, progress, label)
    save_problem(problem, root)
    save_answer(params, root / ANSWER_NAME)
    meta = {"config": config.to_dict(), "budget": budget, "loss_curve": curve}
    (root / METADATA_NAME).write_text(json.dumps(meta, indent=1) + "\n")
