"""Generator options: one :class:`TrainingRecipe` and one :class:`PuzzleConfig`, validated on creation.

Every field carries its help text (``metadata["help"]``): the command line builds the options of
both ``reassembly generate`` and ``reassembly bench`` from these fields, so they cannot drift apart.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from generators.perturbation import Perturbation, parse_perturbation
from reassembly.errors import ConfigError
from reassembly.families import DEFAULT_FAMILY, FAMILY_NAMES, trainable_family_names

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine")
INITS = ("default", "zero-residual")
INPUTS = ("binary", "gaussian")
TEACHER_SEES = ("clean", "noisy")
PRED_FROM = ("original", "perturbed")
# Bump when training, data or model code changes what a configuration produces.
FORMAT_VERSION = 3

__all__ = ["PuzzleConfig", "TrainingRecipe", "Perturbation", "parse_perturbation", "option_fields"]


LIMITS = {
    "depth": 10_000,
    "width": 100_000,
    "hidden": 100_000,
    "output": 100_000,
    "teacher_hidden": 100_000,
    "rows": 10_000_000,
    "seed": 2**32 - 1,
}  # beyond these a value is a typo, not a puzzle
MAX_PARAMETERS = 500_000_000


def _opt(default: Any, help: str, choices: tuple[str, ...] | None = None) -> Any:
    return field(default=default, metadata={"help": help, "choices": choices})


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def _number(value: Any, integer: bool = False) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return isinstance(value, int) if integer else math.isfinite(value)


@dataclass(frozen=True)
class TrainingRecipe:
    """How the model is trained (the seed comes from :class:`PuzzleConfig`)."""

    optimizer: str = _opt("adam", "Optimizer.", OPTIMIZERS)
    lr: float = _opt(1e-3, "Learning rate.")
    epochs: int = _opt(10, "Training epochs (the most, with early stopping).")
    batch_size: int = _opt(128, "Batch size.")
    weight_decay: float = _opt(0.0, "Weight decay.")
    momentum: float = _opt(0.9, "Momentum (SGD only).")
    early_stopping: int | None = _opt(
        None, "Patience in epochs on the validation loss; the best epoch's weights are kept."
    )
    schedule: str = _opt("constant", "Learning-rate schedule (cosine: annealed to 0 per step).", SCHEDULES)
    init: str = _opt(
        "zero-residual", "Initialisation: zero-residual (write pieces start at 0) or PyTorch's default.", INITS
    )
    val_fraction: float = _opt(0.2, "Share of rows held out for validation.")

    def __post_init__(self) -> None:
        _require(
            self.optimizer in OPTIMIZERS,
            f"recipe: unknown optimizer {self.optimizer!r}; choose from {', '.join(OPTIMIZERS)}",
        )
        _require(_number(self.lr) and self.lr > 0, f"recipe: lr must be a positive number, got {self.lr}")
        _require(
            _number(self.epochs, True) and self.epochs >= 1,
            f"recipe: epochs must be an integer >= 1, got {self.epochs}",
        )
        _require(
            _number(self.batch_size, True) and self.batch_size >= 1,
            f"recipe: batch_size must be an integer >= 1, got {self.batch_size}",
        )
        _require(
            _number(self.weight_decay) and self.weight_decay >= 0,
            f"recipe: weight_decay must be >= 0, got {self.weight_decay}",
        )
        _require(
            _number(self.momentum) and 0 <= self.momentum < 1,
            f"recipe: momentum must be in [0, 1), got {self.momentum}",
        )
        _require(
            self.early_stopping is None or (_number(self.early_stopping, True) and self.early_stopping >= 1),
            f"recipe: early_stopping (patience in epochs) must be None or an integer >= 1, got {self.early_stopping}",
        )
        _require(self.init in INITS, f"recipe: unknown init {self.init!r}; choose from {', '.join(INITS)}")
        _require(
            self.schedule in SCHEDULES,
            f"recipe: unknown schedule {self.schedule!r}; choose from {', '.join(SCHEDULES)}",
        )
        _require(
            _number(self.val_fraction) and 0 < self.val_fraction < 1,
            f"recipe: val_fraction must be in (0, 1), got {self.val_fraction}",
        )


@dataclass(frozen=True)
class PuzzleConfig:
    """Everything that determines a generated puzzle.

    Data: ``rows`` inputs of dimension ``width`` (``binary``: ±1 plus ``input_noise`` Gaussian noise,
    or ``gaussian``), targets from a random ``tanh`` teacher with ``teacher_hidden`` units reading the
    clean ±1 states or the observed inputs, scaled to unit variance, plus ``label_noise`` Gaussian
    noise. Model: ``depth`` blocks of the family ``block`` of hidden size ``hidden``, then a
    linear head with ``output`` outputs.
    """

    block: str = _opt(DEFAULT_FAMILY, "Block family.", FAMILY_NAMES)
    depth: int = _opt(48, "Number of residual blocks.")
    width: int = _opt(48, "Residual width d.")
    hidden: int = _opt(96, "Hidden size h of each block.")
    output: int = _opt(1, "Outputs of the head.")
    rows: int = _opt(10_000, "Data rows (train + validation), all written to the CSV.")
    inputs: str = _opt("binary", "Input distribution: binary (±1 plus noise) or gaussian.", INPUTS)
    input_noise: float = _opt(0.1, "Gaussian noise σ added to binary inputs.")
    label_noise: float = _opt(0.3, "Gaussian noise σ added to the teacher's targets.")
    teacher_hidden: int = _opt(32, "Hidden units of the random teacher.")
    teacher_sees: str = _opt(
        "noisy", "Whether the teacher reads the noisy observed inputs or the clean ±1 states.", TEACHER_SEES
    )
    seed: int = _opt(0, "Seed of data, initialisation, training and shuffling.")
    recipe: TrainingRecipe = field(default_factory=TrainingRecipe)
    perturbations: tuple[Perturbation, ...] = ()
    pred_from: str = _opt("original", "Whether pred comes from the original or the perturbed model.", PRED_FROM)

    def __post_init__(self) -> None:
        for name in ("depth", "width", "hidden", "output", "rows", "teacher_hidden", "seed"):
            _require(
                _number(getattr(self, name), True), f"config: {name} must be an integer, got {getattr(self, name)!r}"
            )
        trainable = (
            FAMILY_NAMES if self.block in FAMILY_NAMES else trainable_family_names()
        )  # plugins looked up only where needed
        _require(
            self.block in trainable, f"config: unknown block family {self.block!r}; choose from {', '.join(trainable)}"
        )
        _require(self.depth >= 2, f"config: depth must be >= 2 blocks, got {self.depth}")
        for name in ("width", "hidden", "output", "teacher_hidden"):
            _require(getattr(self, name) >= 1, f"config: {name} must be >= 1, got {getattr(self, name)}")
        _require(self.rows >= 10, f"config: rows must be >= 10, got {self.rows}")
        for name, most in LIMITS.items():
            _require(
                getattr(self, name) <= most, f"config: {name} must be <= {most:,}, got {str(getattr(self, name))[:30]}"
            )
        _require(
            self.depth * self.width * self.hidden <= MAX_PARAMETERS,
            f"config: depth x width x hidden must be <= {MAX_PARAMETERS:,} (the network would not fit in memory)",
        )
        _require(self.inputs in INPUTS, f"config: unknown inputs {self.inputs!r}; choose from {', '.join(INPUTS)}")
        for name in ("input_noise", "label_noise"):
            _require(
                _number(getattr(self, name)) and getattr(self, name) >= 0,
                f"config: {name} must be >= 0, got {getattr(self, name)}",
            )
        _require(
            self.teacher_sees in TEACHER_SEES,
            f"config: teacher_sees must be one of {', '.join(TEACHER_SEES)}, got {self.teacher_sees!r}",
        )
        _require(self.seed >= 0, f"config: seed must be >= 0, got {self.seed}")
        _require(
            self.pred_from in PRED_FROM,
            f"config: pred_from must be one of {', '.join(PRED_FROM)}, got {self.pred_from!r}",
        )
        _require(isinstance(self.recipe, TrainingRecipe), "config: recipe must be a TrainingRecipe")
        object.__setattr__(self, "perturbations", tuple(self.perturbations))
        for p in self.perturbations:
            _require(
                isinstance(p, Perturbation),
                f"config: perturbations must be Perturbation objects (see parse_perturbation), got {p!r}",
            )

    def training_dict(self) -> dict:
        """The options that determine the trained model (what the cache is keyed by)."""
        d = asdict(self)
        recipe = d.pop("recipe")
        for k in ("perturbations", "pred_from"):
            d.pop(k)
        d.update({f"recipe_{k}": v for k, v in recipe.items()})
        return d

    def to_dict(self) -> dict:
        """Flat JSON-able dict of every option."""
        d = self.training_dict()
        d["perturbations"] = ",".join(str(p) for p in self.perturbations)
        d["pred_from"] = self.pred_from
        return d

    def cache_key(self) -> str:
        """SHA-256 of the training options and the generator's format version (the trained model's key)."""
        payload = json.dumps({"format": FORMAT_VERSION, **self.training_dict()}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()

    @classmethod
    def from_options(cls, options: dict[str, Any], perturb: list[str] | tuple[str, ...] = ()) -> PuzzleConfig:
        """A configuration from flat options (any field of this class or of :class:`TrainingRecipe`;
        ``None`` keeps the default) and perturbation strings."""
        recipe_names = {f.name for f in fields(TrainingRecipe)}
        given = {k: v for k, v in options.items() if v is not None}
        recipe = TrainingRecipe(**{k: v for k, v in given.items() if k in recipe_names})
        own = {k: v for k, v in given.items() if k not in recipe_names}
        return cls(**own, recipe=recipe, perturbations=tuple(parse_perturbation(p) for p in perturb))


def option_fields() -> list[Any]:
    """Every generator option (configuration fields, then recipe fields) with its help text."""
    own = [f for f in fields(PuzzleConfig) if "help" in f.metadata]
    return own + [f for f in fields(TrainingRecipe) if "help" in f.metadata]
