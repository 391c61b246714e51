"""Synthetic data: inputs (binary ±1 plus noise, or Gaussian) and targets from a random teacher."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from generators.config import PuzzleConfig
from generators.seeding import generator


@dataclass(frozen=True)
class Dataset:
    """Observed inputs ``X`` (float64, ``(N, width)``), noisy targets ``true`` and the train/validation split."""

    X: torch.Tensor
    true: torch.Tensor
    train: torch.Tensor  # row indices
    val: torch.Tensor


def sample_inputs(
    kind: str, rows: int, width: int, input_noise: float, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Observed inputs and the clean values behind them.

    ``binary``: clean uniform ±1 states, observed with ``N(0, input_noise²)`` measurement noise;
    ``gaussian``: standard normal, observed exactly.
    """
    if kind == "binary":
        clean = torch.randint(0, 2, (rows, width), generator=gen, dtype=torch.float64) * 2 - 1
        return clean + input_noise * torch.randn(rows, width, generator=gen, dtype=torch.float64), clean
    X = torch.randn(rows, width, generator=gen, dtype=torch.float64)
    return X, X


@dataclass(frozen=True)
class Teacher:
    """``tanh(X @ w1) @ w2`` standardised by fixed ``mean`` and ``std``."""

    w1: torch.Tensor
    w2: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor

    @classmethod
    def random(cls, config: PuzzleConfig, gen: torch.Generator, X: torch.Tensor) -> Teacher:
        w1 = torch.randn(config.width, config.teacher_hidden, generator=gen, dtype=torch.float64) / config.width**0.5
        w2 = (
            torch.randn(config.teacher_hidden, config.output, generator=gen, dtype=torch.float64)
            / config.teacher_hidden**0.5
        )
        raw = torch.tanh(X @ w1) @ w2
        return cls(w1, w2, raw.mean(0), raw.std(0).clamp_min(1e-12))

    def __call__(self, X: torch.Tensor) -> torch.Tensor:
        return (torch.tanh(X @ self.w1) @ self.w2 - self.mean) / self.std


def make_dataset(config: PuzzleConfig) -> tuple[Dataset, Teacher]:
    """The puzzle's rows and the teacher that labels them (also used for fine-tuning data)."""
    gen = generator(config.seed, "data")
    X, clean = sample_inputs(config.inputs, config.rows, config.width, config.input_noise, gen)
    seen = clean if config.teacher_sees == "clean" else X
    teacher = Teacher.random(config, gen, seen)
    true = teacher(seen) + config.label_noise * torch.randn(
        config.rows, config.output, generator=gen, dtype=torch.float64
    )
    order = torch.randperm(config.rows, generator=gen)
    n_val = max(1, round(config.rows * config.recipe.val_fraction))
    return Dataset(X=X, true=true, train=order[n_val:].sort().values, val=order[:n_val].sort().values), teacher


def fresh_batch(
    config: PuzzleConfig, teacher: Teacher, rows: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """New rows from the same distribution (for fine-tuning)."""
    X, clean = sample_inputs(config.inputs, rows, config.width, config.input_noise, gen)
    y = teacher(clean if config.teacher_sees == "clean" else X) + config.label_noise * torch.randn(
        rows, config.output, generator=gen, dtype=torch.float64
    )
    return X, y
