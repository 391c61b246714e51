"""Query-only reassembly: the pieces of a dropped network and an oracle of the original, no table.

A problem directory holds the pieces and ``puzzle.json`` as a layer-reassembly puzzle does,
``inputs.pth`` (``{"X": rows}``: a sample of the input distribution, without outputs) and
``query.json`` (``{"format": 1, "budget": rows}``). The answer is an
:class:`~reassembly.answer.Assembly`, kept apart as for layer reassembly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from reassembly.errors import PuzzleError
from reassembly.families import get_family
from reassembly.families.base import BlockFamily
from reassembly.loader import PIECES_DIR, SPEC_NAME, load_piece, piece_paths, read_spec, save_puzzle
from reassembly.puzzle import Layout, Piece, Puzzle, infer_layout
from reassembly.safeio import load_state, read_json, regular_file

QUERY_SPEC = "query.json"
INPUTS_NAME = "inputs.pth"
FORMAT = 1


@dataclass
class QueryPuzzle:
    """Everything a query-only solver may see: family, pieces, a sample of inputs, the budget and
    (attached by whoever runs the solver) the oracle."""

    pieces: tuple[Piece, ...]
    X: torch.Tensor
    budget: int
    family: BlockFamily = field(default_factory=lambda: get_family("relu"))
    name: str = "query"
    oracle: Any = None
    layout: Layout = field(init=False)

    def __post_init__(self) -> None:
        self.layout = infer_layout(self.family, self.pieces, source=self.name)
        if self.X.ndim != 2 or self.X.shape[1] != self.layout.sizes["d"]:
            raise PuzzleError(
                f"{self.name}: inputs have shape {tuple(self.X.shape)}; the pieces need {self.layout.sizes['d']} columns"
            )

    @property
    def depth(self) -> int:
        return self.layout.depth

    def puzzle(self, X: torch.Tensor, Y: torch.Tensor, name: str | None = None) -> Puzzle:
        """A layer-reassembly puzzle of these pieces with rows ``X`` and the outputs ``Y`` the
        oracle gave for them (for any layer-reassembly solver)."""
        return Puzzle(pieces=self.pieces, X=X.double(), pred=Y.double(), name=name or self.name, family=self.family)


def visible_files(root: Path) -> list[str]:
    files = [f"{PIECES_DIR}/{p.name}" for p in piece_paths(root / PIECES_DIR).values()] + [
        SPEC_NAME,
        INPUTS_NAME,
        QUERY_SPEC,
    ]
    for rel in files:
        regular_file(root / rel)
    return sorted(files)


def load_query_puzzle(root: str | Path) -> QueryPuzzle:
    """Load a problem directory (every fault a one-line :class:`PuzzleError` naming the file)."""
    root = Path(root)
    spec = read_json(root / QUERY_SPEC, "query spec")
    budget = spec.get("budget")
    if spec.get("format") != FORMAT or isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise PuzzleError(f"{root / QUERY_SPEC}: expected format {FORMAT} and a budget of at least 1 row")
    regular_file(root / SPEC_NAME, "puzzle spec")
    family = read_spec(root)
    paths = piece_paths(root / PIECES_DIR)
    pieces = tuple(load_piece(paths[i], i) for i in range(len(paths)))
    inputs = load_state(root / INPUTS_NAME)
    if set(inputs) != {"X"}:
        raise PuzzleError(f"{root / INPUTS_NAME}: expected one tensor 'X', found {sorted(inputs)}")
    return QueryPuzzle(pieces, inputs["X"].double(), budget, family, root.resolve().name)


def save_query_puzzle(puzzle: Puzzle, budget: int, root: str | Path) -> Path:
    """Write ``puzzle``'s pieces and inputs (not its outputs) as a query-only problem."""
    import io

    root = Path(root)
    save_puzzle(puzzle, root)
    (root / "historical_data.csv").unlink()
    buf = io.BytesIO()
    torch.save({"X": puzzle.X.to(torch.float32).contiguous()}, buf)
    (root / INPUTS_NAME).write_bytes(buf.getvalue())
    (root / QUERY_SPEC).write_text(json.dumps({"format": FORMAT, "budget": int(budget)}) + "\n")
    return root
