"""Re-synchronisation problems on disk and in memory, their answers and what a solver returns.

A problem directory holds ``resync.json`` (``{"format": 1, "family": NAME, "depth": D}``),
``reference.pth`` and ``copy.pth`` (flat state dicts, :mod:`reassembly.resync.network` names) and
``inputs.pth`` (``{"X": rows}`` from the input distribution, to query both networks with). The
answer (``answer.json``, never shown to solvers) lists, per layer, ``perms[g][i]``: the copy's unit
that is the reference's unit ``i``; and the reference's units an integrity attack rescaled.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from reassembly.answer import read_answer
from reassembly.answer import save_answer as write_answer
from reassembly.errors import PuzzleError
from reassembly.families import get_family
from reassembly.families.base import BlockFamily
from reassembly.resync.network import block_groups, check_state
from reassembly.resync.units import State, UnitGroup
from reassembly.safeio import load_state, read_json
from reassembly.solver import StageReport

SPEC_NAME = "resync.json"
FILES = ("copy.pth", "inputs.pth", "reference.pth", SPEC_NAME)
FORMAT = 1


@dataclass
class ResyncProblem:
    """Everything a re-synchronisation solver may see."""

    family: BlockFamily
    depth: int
    reference: dict[str, torch.Tensor]
    copy: dict[str, torch.Tensor]
    X: torch.Tensor
    name: str = "resync"
    sizes: dict[str, int] = field(init=False)
    groups: tuple[UnitGroup, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.sizes = check_state(self.family, self.depth, self.reference, f"{self.name}: reference")
        if check_state(self.family, self.depth, self.copy, f"{self.name}: copy") != self.sizes:
            raise PuzzleError(f"{self.name}: the copy's sizes differ from the reference's")
        if self.X.ndim != 2 or self.X.shape[1] != self.sizes["d"] or len(self.X) < 1:
            raise PuzzleError(
                f"{self.name}: inputs have shape {tuple(self.X.shape)}; expected (rows, {self.sizes['d']})"
            )
        self.groups = block_groups(self.family, self.depth, self.sizes["h"])


@dataclass(frozen=True)
class ResyncAnswer:
    """Per layer, ``perms[g][i]`` = the copy's unit that is the reference's unit ``i``; the
    reference's units ``(layer, unit)`` that an integrity attack rescaled."""

    perms: tuple[tuple[int, ...], ...]
    rescaled: tuple[tuple[int, int], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"perms": [list(p) for p in self.perms], "rescaled": [list(r) for r in self.rescaled]}


@dataclass
class ResyncResult:
    """What a re-synchronisation solver returns: one permutation per layer (as the answer's), the
    reference's units it flags as rescaled beyond the perturbation's range, and its stages."""

    perms: list[list[int]]
    flags: list[tuple[int, int]] = field(default_factory=list)
    stages: list[StageReport] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


def _save_tensors(state: State, path: Path) -> None:
    buf = io.BytesIO()
    torch.save({k: v.detach().to(torch.float32).contiguous() for k, v in state.items()}, buf)
    path.write_bytes(buf.getvalue())


def save_problem(problem: ResyncProblem, root: str | Path) -> Path:
    """Write ``problem`` (float32 tensors) into the directory ``root``."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    _save_tensors(problem.reference, root / "reference.pth")
    _save_tensors(problem.copy, root / "copy.pth")
    _save_tensors({"X": problem.X}, root / "inputs.pth")
    spec = {"format": FORMAT, "family": problem.family.name, "depth": problem.depth}
    (root / SPEC_NAME).write_text(json.dumps(spec) + "\n")
    return root


def load_problem(root: str | Path) -> ResyncProblem:
    """Load a problem directory (every fault a one-line :class:`PuzzleError` naming the file)."""
    root = Path(root)
    spec = read_json(root / SPEC_NAME, "resync spec")
    if spec.get("format") != FORMAT or not isinstance(spec.get("depth"), int) or spec["depth"] < 1:
        raise PuzzleError(f"{root / SPEC_NAME}: expected format {FORMAT}, a family and a depth >= 1")
    try:
        family = get_family(spec.get("family"))
    except PuzzleError as exc:
        raise PuzzleError(f"{root / SPEC_NAME}: {exc}") from None
    inputs = load_state(root / "inputs.pth")
    if set(inputs) != {"X"}:
        raise PuzzleError(f"{root / 'inputs.pth'}: expected one tensor 'X', found {sorted(inputs)}")
    return ResyncProblem(
        family,
        spec["depth"],
        load_state(root / "reference.pth"),
        load_state(root / "copy.pth"),
        inputs["X"].double(),
        name=root.resolve().name,
    )


def save_answer(answer: ResyncAnswer, path: str | Path) -> Path:
    """Write ``answer`` as JSON to the file ``path``."""
    return write_answer(answer, path)


def load_answer(path: str | Path) -> ResyncAnswer | None:
    """The answer file (``None`` where absent): the referee's only (see :func:`reassembly.answer.read_answer`)."""
    return read_answer(path, parse_answer, "re-synchronisation answer")


def parse_answer(data: dict[str, Any]) -> ResyncAnswer:
    """A re-synchronisation answer from its JSON object."""
    perms = tuple(tuple(int(i) for i in p) for p in data["perms"])
    rescaled = tuple((int(a), int(b)) for a, b in data.get("rescaled", []))
    return ResyncAnswer(perms, rescaled)
