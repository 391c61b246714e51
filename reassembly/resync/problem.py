"""Re-synchronisation problems on disk and in memory, their answers and what a solver returns.

A problem directory holds ``resync.json`` (``{"format": 1, "family": NAME, "depth": D}``, and
``family_options`` where the family takes any), ``reference.pth`` and ``copy.pth`` (flat state
dicts, :mod:`reassembly.resync.network` names) and ``inputs.pth``: ``{"X": rows}`` from the input
distribution, to query both networks with, or for a family of token sequences (a real
transformer's layers) ``{"tokens": (N, T)}`` with ``fixed.pth``, the known stem and head tensors
that turn them into states and outputs. The answer (``answer.json``, never shown to solvers) lists, per layer, ``perms[g][i]``: the copy's unit
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
from reassembly.families.sequence import check_stem
from reassembly.puzzle import check_fixed
from reassembly.resync.network import block_groups, check_state
from reassembly.resync.units import State, UnitGroup
from reassembly.safeio import load_state, read_json
from reassembly.solver import StageReport

SPEC_NAME = "resync.json"
FILES = ("copy.pth", "inputs.pth", "reference.pth", SPEC_NAME)
FIXED_NAME = "fixed.pth"
FORMAT = 1


def problem_files(root: Path) -> tuple[str, ...]:
    """The files of the problem directory ``root`` (``fixed.pth`` where it has one)."""
    return tuple(sorted((*FILES, FIXED_NAME) if (root / FIXED_NAME).exists() else FILES))


@dataclass
class ResyncProblem:
    """Everything a re-synchronisation solver may see.

    Parameters
    ----------
    family
        The networks' block family.
    depth
        Blocks (layers).
    reference, copy
        The two networks' flat state dicts (:mod:`reassembly.resync.network` names).
    X
        Input rows ``(rows, d)`` (``None`` for a family of token sequences: the stem's states of ``tokens``).
    name
        The problem's name.
    fixed
        Known tensors that are not in the state dicts (a sequence family's stem and final norm).
    tokens
        Token sequences ``(N, T)`` indexing ``fixed["embed"]`` (sequence families only).
    """

    family: BlockFamily
    depth: int
    reference: dict[str, torch.Tensor]
    copy: dict[str, torch.Tensor]
    X: torch.Tensor | None = None
    name: str = "resync"
    fixed: dict[str, torch.Tensor] = field(default_factory=dict)
    tokens: torch.Tensor | None = None
    sizes: dict[str, int] = field(init=False)
    groups: tuple[UnitGroup, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.sizes = check_state(self.family, self.depth, self.reference, f"{self.name}: reference")
        if check_state(self.family, self.depth, self.copy, f"{self.name}: copy") != self.sizes:
            raise PuzzleError(f"{self.name}: the copy's sizes differ from the reference's")
        d = self.sizes["d"]
        if self.family.data_format == "sequences":
            if self.tokens is None:
                raise PuzzleError(f"{self.name}: the {self.family.name!r} family reads token sequences; none given")
            check_fixed(self.family, self.fixed, d, f"{self.name}: fixed")
            check_stem(self.family, self.fixed, self.tokens, f"{self.name}: tokens")
            self.X = self.family.stem({k: v.double() for k, v in self.fixed.items()}, self.tokens)
        elif self.X is None or self.X.ndim != 2 or self.X.shape[1] != d or len(self.X) < 1:
            shape = None if self.X is None else tuple(self.X.shape)
            raise PuzzleError(f"{self.name}: inputs have shape {shape}; expected (rows, {d})")
        self.groups = block_groups(self.family, self.depth, self.sizes)


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
    if problem.tokens is None:
        _save_tensors({"X": problem.X}, root / "inputs.pth")
    else:
        torch.save({"tokens": problem.tokens.to(torch.long).contiguous()}, root / "inputs.pth")
        _save_tensors(problem.fixed, root / FIXED_NAME)
    spec = {"format": FORMAT, "family": problem.family.name, "depth": problem.depth}
    if problem.family.options:
        spec["family_options"] = problem.family.options
    (root / SPEC_NAME).write_text(json.dumps(spec) + "\n")
    return root


def load_problem(root: str | Path) -> ResyncProblem:
    """Load a problem directory (every fault a one-line :class:`PuzzleError` naming the file)."""
    root = Path(root)
    spec = read_json(root / SPEC_NAME, "resync spec")
    if spec.get("format") != FORMAT or not isinstance(spec.get("depth"), int) or spec["depth"] < 1:
        raise PuzzleError(f"{root / SPEC_NAME}: expected format {FORMAT}, a family and a depth >= 1")
    try:
        family = get_family(spec.get("family"), spec.get("family_options"))
    except PuzzleError as exc:
        raise PuzzleError(f"{root / SPEC_NAME}: {exc}") from None
    inputs = load_state(root / "inputs.pth", "inputs file", integers=("tokens",))
    want = "tokens" if family.data_format == "sequences" else "X"
    if set(inputs) != {want}:
        raise PuzzleError(f"{root / 'inputs.pth'}: expected one tensor {want!r}, found {sorted(inputs)}")
    sequences = want == "tokens"
    if sequences and not (root / FIXED_NAME).is_file():
        raise PuzzleError(f"{root / FIXED_NAME}: missing (the {family.name!r} family's stem and head tensors)")
    return ResyncProblem(
        family,
        spec["depth"],
        load_state(root / "reference.pth"),
        load_state(root / "copy.pth"),
        None if sequences else inputs["X"].double(),
        name=root.resolve().name,
        fixed=load_state(root / FIXED_NAME) if sequences else {},
        tokens=inputs["tokens"].long() if sequences else None,
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
