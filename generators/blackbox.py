"""Black-box reconstruction problems: a ReLU network ``d``-``h``-``o`` (the configuration's
``width``, ``hidden`` and ``output``; ``layers`` hidden layers of ``h`` units, the task option)
trained on the configuration's synthetic data, kept as the answer; the problem states only its
sizes and the query budget.

The data are the generator's own (``--inputs binary``: ±1 states plus noise, targets from a random
``tanh`` teacher): at ``--width 784`` they have MNIST's input width without a data set the core
does not ship. Extraction queries the network anywhere in input space, so what matters of the
training is only that it moves every weight off its initialisation, as MNIST training does.
"""

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


def relu_mlp(d: int, h: int, o: int, seed: int, layers: int = 1) -> nn.Sequential:
    """``Linear(d, h)``, ReLU, (``Linear(h, h)``, ReLU) x ``layers - 1``, ``Linear(h, o)``, initialised as
    PyTorch does, from ``seed``.

    Parameters
    ----------
    d, h, o
        Input width, hidden units per layer, outputs.
    seed
        Seed of the initialisation.
    layers
        Hidden layers.
    """
    widths = [d] + [h] * layers
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mods: list[nn.Module] = []
        for k in range(layers):
            mods += [nn.Linear(widths[k], widths[k + 1]), nn.ReLU()]
        return nn.Sequential(*mods, nn.Linear(h, o))


def build_blackbox(
    config: PuzzleConfig, budget: int = DEFAULT_BUDGET, progress: bool = True, label: str | None = None, layers: int = 1
) -> tuple[BlackboxProblem, dict[str, torch.Tensor], list[dict]]:
    """The problem, the trained network's parameters (float64 copies of its float32 ones) and its loss curve.

    Parameters
    ----------
    config
        Sizes (``width``, ``hidden``, ``output``), data, recipe and seed.
    budget
        Rows the oracle answers.
    progress
        Show a progress bar while training.
    label
        The progress bar's label.
    layers
        Hidden layers of ``hidden`` units each.
    """
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ConfigError(f"black-box budget must be an integer >= 1 (rows the oracle answers), got {budget!r}")
    if isinstance(layers, bool) or not isinstance(layers, int) or not 1 <= layers <= 16:
        raise ConfigError(f"black-box layers must be an integer from 1 to 16 (hidden layers), got {layers!r}")
    data, _ = make_dataset(config)
    model = relu_mlp(config.width, config.hidden, config.output, config.seed, layers)
    curve = train(
        model,
        data,
        config.recipe,
        config.seed,
        progress=progress,
        label=label or f"training black box seed {config.seed}",
    )
    linears = [m for m in model if isinstance(m, nn.Linear)]
    params = {
        f"{kind}{k}": getattr(m, attr)
        for k, m in enumerate(linears, 1)
        for kind, attr in (("W", "weight"), ("b", "bias"))
    }
    params = {k: v.detach().double().clone() for k, v in params.items()}
    sizes = "-".join(map(str, [config.width] + [config.hidden] * layers + [config.output]))
    problem = BlackboxProblem(
        config.width, config.hidden, config.output, budget, name=f"blackbox-{sizes}-seed{config.seed}", layers=layers
    )
    return problem, params, curve


def generate_blackbox(
    config: PuzzleConfig,
    out_dir: str | Path,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    use_cache: bool = True,
    force: bool = False,
    label: str | None = None,
    budget: int = DEFAULT_BUDGET,
    layers: int = 1,
) -> None:
    """Write the problem of ``config`` into the new or empty ``out_dir`` with ``answer.json`` (never
    for solvers) and ``generation.json``. (Small networks train in seconds: no model cache.)
    ``budget`` and ``layers`` are the task options (:func:`build_blackbox`)."""
    problem, params, curve = build_blackbox(config, budget, progress, label, layers)
    root = fresh_directory(Path(out_dir), force)
    save_problem(problem, root)
    save_answer(params, root / ANSWER_NAME)
    meta = {"config": config.to_dict(), "budget": budget, "layers": layers, "loss_curve": curve}
    (root / METADATA_NAME).write_text(json.dumps(meta, indent=1) + "\n")
