"""Generator options: one :class:`TrainingRecipe` and one :class:`PuzzleConfig`, validated on creation."""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field

from reassembly.errors import ConfigError
from reassembly.families import DEFAULT_FAMILY, FAMILY_NAMES

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine")
INITS = ("default", "zero-residual")
INPUTS = ("binary", "gaussian")
TEACHER_SEES = ("clean", "noisy")
PRED_FROM = ("original", "perturbed")
PERTURBATIONS = ("noise", "quantize", "prune", "finetune", "reparam")
# Bump when training, data or model code changes what a configuration produces.
FORMAT_VERSION = 3


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def _finite(value: float) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


@dataclass(frozen=True)
class TrainingRecipe:
    """How the model is trained (the seed comes from :class:`PuzzleConfig`).

    ``early_stopping`` is a patience in epochs on the validation loss (``None``: train all epochs);
    the weights of the best validation epoch are kept. ``schedule="cosine"`` anneals the learning
    rate to 0 over ``epochs`` (per step). ``init="zero-residual"`` starts every block's output
    projection at zero (torchvision's ``zero_init_residual``, SkipInit, Fixup): each block starts as
    the identity; everything else keeps PyTorch's default initialisation. ``momentum`` is used by SGD only.
    """

    optimizer: str = "adam"
    lr: float = 1e-3
    epochs: int = 10
    batch_size: int = 128
    weight_decay: float = 0.0
    early_stopping: int | None = None
    schedule: str = "constant"
    init: str = "zero-residual"
    momentum: float = 0.9
    val_fraction: float = 0.2

    def __post_init__(self) -> None:
        _require(self.optimizer in OPTIMIZERS, f"recipe: unknown optimizer {self.optimizer!r}; choose from {', '.join(OPTIMIZERS)}")
        _require(_finite(self.lr) and self.lr > 0, f"recipe: lr must be a positive number, got {self.lr}")
        _require(isinstance(self.epochs, int) and self.epochs >= 1, f"recipe: epochs must be an integer >= 1, got {self.epochs}")
        _require(isinstance(self.batch_size, int) and self.batch_size >= 1, f"recipe: batch_size must be an integer >= 1, got {self.batch_size}")
        _require(_finite(self.weight_decay) and self.weight_decay >= 0, f"recipe: weight_decay must be >= 0, got {self.weight_decay}")
        _require(
            self.early_stopping is None or (isinstance(self.early_stopping, int) and self.early_stopping >= 1),
            f"recipe: early_stopping (patience in epochs) must be None or an integer >= 1, got {self.early_stopping}",
        )
        _require(self.init in INITS, f"recipe: unknown init {self.init!r}; choose from {', '.join(INITS)}")
        _require(self.schedule in SCHEDULES, f"recipe: unknown schedule {self.schedule!r}; choose from {', '.join(SCHEDULES)}")
        _require(_finite(self.momentum) and 0 <= self.momentum < 1, f"recipe: momentum must be in [0, 1), got {self.momentum}")
        _require(_finite(self.val_fraction) and 0 < self.val_fraction < 1, f"recipe: val_fraction must be in (0, 1), got {self.val_fraction}")


@dataclass(frozen=True)
class Perturbation:
    """One post-training change: ``noise`` (relative σ), ``quantize`` (bits), ``prune`` (fraction),
    ``finetune`` (steps) or ``reparam`` (no value)."""

    kind: str
    value: float | None = None

    def __post_init__(self) -> None:
        k, v = self.kind, self.value
        _require(k in PERTURBATIONS, f"perturbation: unknown kind {k!r}; choose from {', '.join(PERTURBATIONS)}")
        if k == "reparam":
            _require(v is None, "perturbation: reparam takes no value")
            return
        _require(v is not None and _finite(v), f"perturbation {k}: needs a numeric value, e.g. {k}={_EXAMPLES[k]}")
        if k == "noise":
            _require(v >= 0, f"perturbation noise: relative sigma must be >= 0, got {v}")
        elif k == "quantize":
            _require(float(v).is_integer() and 1 <= v <= 16, f"perturbation quantize: bits must be an integer in 1..16, got {v}")
        elif k == "prune":
            _require(0 <= v < 1, f"perturbation prune: fraction must be in [0, 1), got {v}")
        elif k == "finetune":
            _require(float(v).is_integer() and v >= 1, f"perturbation finetune: steps must be an integer >= 1, got {v}")

    def __str__(self) -> str:
        if self.value is None:
            return self.kind
        v = int(self.value) if self.kind in ("quantize", "finetune") else self.value
        return f"{self.kind}={v}"


_EXAMPLES = {"noise": "0.01", "quantize": "8", "prune": "0.5", "finetune": "100"}


def parse_perturbation(text: str) -> Perturbation:
    """``"noise=0.01"``, ``"quantize=8"``, ``"prune=0.5"``, ``"finetune=100"`` or ``"reparam"``."""
    kind, sep, raw = text.strip().partition("=")
    kind = kind.strip().lower()
    if not sep:
        return Perturbation(kind)
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"perturbation {text!r}: {raw!r} is not a number") from None
    return Perturbation(kind, value)


@dataclass(frozen=True)
class PuzzleConfig:
    """Everything that determines a generated puzzle.

    Data: ``rows`` inputs of dimension ``width`` (``binary``: ±1 plus ``input_noise`` Gaussian noise,
    or ``gaussian``), targets from a random ``tanh`` teacher with ``teacher_hidden`` units reading the
    clean ±1 states (``teacher_sees="clean"``: the noise is measurement noise) or the observed inputs,
    scaled to unit variance, plus ``label_noise`` Gaussian noise. Model: ``depth`` blocks of the
    family ``block`` (default ``relu``: ``x + out(relu(inp(x)))``) of hidden size ``hidden`` and a
    last layer with ``output`` outputs.
    """

    block: str = DEFAULT_FAMILY
    depth: int = 48
    width: int = 48
    hidden: int = 96
    output: int = 1
    rows: int = 10_000
    inputs: str = "binary"
    input_noise: float = 0.1
    label_noise: float = 0.3
    teacher_hidden: int = 32
    teacher_sees: str = "noisy"
    seed: int = 0
    recipe: TrainingRecipe = field(default_factory=TrainingRecipe)
    perturbations: tuple[Perturbation, ...] = ()
    pred_from: str = "original"

    def __post_init__(self) -> None:
        for name in ("depth", "width", "hidden", "output", "rows", "teacher_hidden", "seed"):
            _require(isinstance(getattr(self, name), int), f"config: {name} must be an integer, got {getattr(self, name)!r}")
        _require(self.block in FAMILY_NAMES, f"config: unknown block family {self.block!r}; choose from {', '.join(FAMILY_NAMES)}")
        _require(self.depth >= 2, f"config: depth must be >= 2 blocks, got {self.depth}")
        _require(self.width >= 1, f"config: width must be >= 1, got {self.width}")
        _require(self.hidden >= 1, f"config: hidden must be >= 1, got {self.hidden}")
        _require(self.output >= 1, f"config: output must be >= 1, got {self.output}")
        _require(self.rows >= 10, f"config: rows must be >= 10, got {self.rows}")
        _require(self.inputs in INPUTS, f"config: unknown inputs {self.inputs!r}; choose from {', '.join(INPUTS)}")
        _require(_finite(self.input_noise) and self.input_noise >= 0, f"config: input_noise must be >= 0, got {self.input_noise}")
        _require(_finite(self.label_noise) and self.label_noise >= 0, f"config: label_noise must be >= 0, got {self.label_noise}")
        _require(self.teacher_sees in TEACHER_SEES, f"config: teacher_sees must be one of {', '.join(TEACHER_SEES)}, got {self.teacher_sees!r}")
        _require(self.teacher_hidden >= 1, f"config: teacher_hidden must be >= 1, got {self.teacher_hidden}")
        _require(self.seed >= 0, f"config: seed must be >= 0, got {self.seed}")
        _require(self.pred_from in PRED_FROM, f"config: pred_from must be one of {', '.join(PRED_FROM)}, got {self.pred_from!r}")
        _require(isinstance(self.recipe, TrainingRecipe), "config: recipe must be a TrainingRecipe")
        object.__setattr__(self, "perturbations", tuple(self.perturbations))
        for p in self.perturbations:
            _require(isinstance(p, Perturbation), f"config: perturbations must be Perturbation objects (see parse_perturbation), got {p!r}")

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

    def puzzle_key(self) -> str:
        """SHA-256 of every option and the format version (the written puzzle's key)."""
        payload = json.dumps({"format": FORMAT_VERSION, **self.to_dict()}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()
