"""Core types: pieces, the architecture they imply, and the puzzle a solver receives.

A :class:`Puzzle` holds only what a solver may see (pieces and data). Ground truth lives
apart in :class:`reassembly.answer.Answer`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from reassembly.errors import PuzzleError


@dataclass(frozen=True)
class Piece:
    """One linear layer: ``y = x @ weight.T + bias``, numbered as in the shuffled puzzle."""

    index: int
    weight: torch.Tensor
    bias: torch.Tensor

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.weight.shape[0]), int(self.weight.shape[1]))


@dataclass(frozen=True)
class Architecture:
    """Residual network ``x + out(relu(inp(x)))`` repeated ``depth`` times, then a last linear layer."""

    input_dim: int
    hidden_dim: int
    output_dim: int
    depth: int

    @property
    def n_pieces(self) -> int:
        return 2 * self.depth + 1


@dataclass(frozen=True)
class PieceRoles:
    """Which piece ids are input projections, output projections and the last layer."""

    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    last: int


def infer_architecture(pieces: list[Piece] | tuple[Piece, ...], source: str = "pieces") -> tuple[Architecture, PieceRoles]:
    """Infer the architecture and each piece's role from the weight shapes alone.

    Input projections are ``(hidden, d)``, output projections ``(d, hidden)``, the last layer
    ``(out, d)``. Raises :class:`PuzzleError` where shapes cannot form that architecture.
    """
    if len(pieces) < 3 or len(pieces) % 2 == 0:
        raise PuzzleError(
            f"{source}: {len(pieces)} pieces cannot form the architecture "
            "(need 2 per block plus 1 last layer: an odd number >= 3)"
        )
    groups: dict[tuple[int, int], list[int]] = {}
    for p in pieces:
        groups.setdefault(p.shape, []).append(p.index)
    singles = [s for s, ids in groups.items() if len(ids) == 1]
    pairs = {s: ids for s, ids in groups.items() if len(ids) > 1}
    if len(pairs) == 1:
        (shape, ids), = pairs.items()
        if shape[0] == shape[1]:
            raise PuzzleError(
                f"{source}: all block pieces are square {shape[0]}x{shape[1]}, so shapes cannot tell "
                "input projections from output projections (hidden dim equals input dim)"
            )
    depth = (len(pieces) - 1) // 2
    candidates = [
        (s_in, s_out)
        for s_in, ids_in in pairs.items()
        for s_out, ids_out in pairs.items()
        if s_in == (s_out[1], s_out[0]) and s_in != s_out and len(ids_in) == depth and len(ids_out) == depth
    ]
    if not candidates or len(singles) != 1:
        summary = ", ".join(f"{len(ids)} x {s[0]}x{s[1]}" for s, ids in sorted(groups.items()))
        raise PuzzleError(
            f"{source}: shapes cannot form the architecture: found {summary}; expected {depth} x (hidden, d), "
            f"{depth} x (d, hidden) and 1 x (out, d)"
        )
    last_shape = singles[0]
    # (hidden, d) and (d, hidden): the last layer's second dimension names d.
    d = last_shape[1]
    match = [(a, b) for a, b in candidates if a[1] == d]
    if not match:
        raise PuzzleError(
            f"{source}: the last layer {last_shape[0]}x{last_shape[1]} does not read the residual width of any "
            "block pieces"
        )
    s_in, s_out = match[0]
    arch = Architecture(input_dim=d, hidden_dim=s_in[0], output_dim=last_shape[0], depth=depth)
    for p in pieces:
        expected_bias = p.shape[0]
        if p.bias.shape != (expected_bias,):
            raise PuzzleError(
                f"{source}: piece {p.index} has weight {p.shape[0]}x{p.shape[1]} but bias of shape "
                f"{tuple(p.bias.shape)} (expected ({expected_bias},))"
            )
    roles = PieceRoles(
        inputs=tuple(sorted(pairs[s_in])),
        outputs=tuple(sorted(pairs[s_out])),
        last=groups[last_shape][0],
    )
    return arch, roles


@dataclass
class Puzzle:
    """Everything a solver may see: numbered pieces and a data set (``X``, ``pred``, optional ``true``).

    ``X`` is ``(N, d)`` and ``pred`` is ``(N, out)``, both float64.
    """

    pieces: tuple[Piece, ...]
    X: torch.Tensor
    pred: torch.Tensor
    true: torch.Tensor | None = None
    name: str = "puzzle"
    architecture: Architecture = field(init=False)
    roles: PieceRoles = field(init=False)

    def __post_init__(self) -> None:
        self.pieces = tuple(sorted(self.pieces, key=lambda p: p.index))
        ids = [p.index for p in self.pieces]
        if ids != list(range(len(ids))):
            raise PuzzleError(f"{self.name}: piece numbers must be 0..{len(ids) - 1} without gaps, got {ids[:10]}...")
        self.architecture, self.roles = infer_architecture(self.pieces, source=self.name)
        if self.pred.ndim == 1:
            self.pred = self.pred[:, None]
        if self.true is not None and self.true.ndim == 1:
            self.true = self.true[:, None]
        arch = self.architecture
        if self.X.ndim != 2 or self.X.shape[1] != arch.input_dim:
            raise PuzzleError(
                f"{self.name}: data has {tuple(self.X.shape)} inputs but the pieces need {arch.input_dim} columns"
            )
        if self.pred.shape != (self.X.shape[0], arch.output_dim):
            raise PuzzleError(
                f"{self.name}: pred has shape {tuple(self.pred.shape)}, expected ({self.X.shape[0]}, {arch.output_dim})"
            )

    def piece(self, index: int) -> Piece:
        return self.pieces[index]

    @property
    def n_rows(self) -> int:
        return int(self.X.shape[0])
