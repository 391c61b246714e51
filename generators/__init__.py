"""Synthetic dropped networks: train, perturb, disassemble and shuffle residual nets with known answers.

Names resolve lazily (PEP 562), so importing :mod:`generators.config` (as the CLI does) does not
import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ModelCache": "generators.cache",
    "default_cache_dir": "generators.cache",
    "Perturbation": "generators.config",
    "PuzzleConfig": "generators.config",
    "TrainingRecipe": "generators.config",
    "parse_perturbation": "generators.config",
    "FamilyNet": "generators.model",
    "build_model": "generators.model",
    "build_puzzle": "generators.build",
    "generate": "generators.build",
    "trained_model": "generators.build",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'generators' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
