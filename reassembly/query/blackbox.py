"""Black-box parameter reconstruction problems: a small ReLU network seen only through a counted
oracle; the answer is its parameters (up to its isomorphisms, :mod:`reassembly.query.mlp`).

A problem directory holds ``blackbox.json``: ``{"format": 1, "d": .., "h": .., "o": .., "budget":
rows}`` (and ``"layers"``: hidden layers of ``h`` units each, where more than one). The answer (``answer.json``, never shown to solvers) holds ``W1``, ``b1``, ``W2`` and
``b2`` (up to ``W{layers+1}``, ``b{layers+1}``) as nested lists.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from reassembly.answer import read_answer
from reassembly.errors import PuzzleError
from reassembly.query.mlp import check_params
from reassembly.safeio import read_json
from reassembly.solver import StageReport

SPEC_NAME = "blackbox.json"
FORMAT = 1


@dataclass
class BlackboxProblem:
    """What a reconstruction solver may see: the sizes, the budget and (attached) the oracle."""

    d: int
    h: int
    o: int
    budget: int
    name: str = "blackbox"
    oracle: Any = None
    layers: int = 1  # hidden layers, each of ``h`` units

    @property
    def sizes(self) -> dict[str, int]:
        return {"d": self.d, "h": self.h, "o": self.o, **({"layers": self.layers} if self.layers != 1 else {})}


@dataclass
class BlackboxResult:
    """A reconstruction solver's answer: the parameters ``W1``, ``b1``, ``W2``, ``b2``."""

    params: dict[str, torch.Tensor]
    stages: list[StageReport] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


def save_problem(problem: BlackboxProblem, root: str | Path) -> Path:
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    spec = {"format": FORMAT, **problem.sizes, "budget": problem.budget}
    (root / SPEC_NAME).write_text(json.dumps(spec) + "\n")
    return root


def load_problem(root: str | Path) -> BlackboxProblem:
    root = Path(root)
    spec = read_json(root / SPEC_NAME, "black-box spec")
    values = [spec.get(k) for k in ("d", "h", "o", "budget")] + [spec.get("layers", 1)]
    if spec.get("format") != FORMAT or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in values
    ):
        raise PuzzleError(
            f"{root / SPEC_NAME}: expected format {FORMAT} and integers d, h, o, budget (and layers) >= 1"
        )
    return BlackboxProblem(*values[:4], name=root.resolve().name, layers=values[4])  # type: ignore[arg-type]


def save_answer(params: Mapping[str, torch.Tensor], path: str | Path) -> Path:
    path = Path(path)
    path.write_text(json.dumps({n: t.double().tolist() for n, t in params.items()}) + "\n")
    return path


def load_answer(path: str | Path, problem: BlackboxProblem) -> dict[str, torch.Tensor] | None:
    """The true parameters (``None`` where the file is absent): the referee's only (see
    :func:`reassembly.answer.read_answer`)."""
    return read_answer(
        path,
        lambda data: check_params(data, problem.d, problem.h, problem.o, str(path), problem.layers),
        "black-box answer",
    )
