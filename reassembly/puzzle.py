"""Core types: pieces, the layout their shapes imply under a block family, and the puzzle a solver sees.

A :class:`Puzzle` holds only what a solver may see (family, pieces and data). Ground truth lives
apart in :class:`reassembly.answer.Answer`.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field

import torch

from reassembly.errors import PuzzleError
from reassembly.families import DEFAULT_FAMILY, get_family
from reassembly.families.base import BlockFamily, Slot


@dataclass(frozen=True)
class Piece:
    """One shuffled tensor group (a linear layer's ``weight`` and ``bias``, or a norm's gain).

    Parameters
    ----------
    index
        The piece's number in the puzzle (``piece_<index>.pth``).
    weight
        A 2-D weight (``(out, in)``) or a 1-D gain.
    bias
        The 1-D bias, where the piece has one.
    """

    index: int
    weight: torch.Tensor
    bias: torch.Tensor | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.weight.shape)

    @property
    def signature(self) -> tuple[tuple[int, ...], bool]:
        """What shape inference sees: the weight's shape and whether there is a bias."""
        return self.shape, self.bias is not None


@dataclass(frozen=True)
class Layout:
    """What the pieces' shapes say under a family.

    ``sizes`` maps ``d``, ``h`` and ``o`` to numbers, ``depth`` is the number of blocks, and
    ``pools[slot]`` lists the ids of the pieces that fit ``slot`` (slots of equal shape share one
    pool, e.g. ``gate`` and ``up``, or ``inp`` and ``out`` when ``h == d``).
    """

    family: BlockFamily
    sizes: dict[str, int]
    depth: int
    pools: dict[str, tuple[int, ...]]

    @property
    def block_slots(self) -> tuple[str, ...]:
        return self.family.slot_names

    @property
    def head_slots(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.family.head_slots)

    @property
    def n_pieces(self) -> int:
        return self.depth * len(self.block_slots) + len(self.head_slots)

    def shared(self, slot: str) -> tuple[str, ...]:
        """Slots (block and head) drawing from the same pool as ``slot``, itself included."""
        return tuple(s for s in (*self.block_slots, *self.head_slots) if self.pools[s] == self.pools[slot])

    @property
    def ambiguous(self) -> bool:
        """Whether shapes leave slot assignment open (two slots share a pool)."""
        names = (*self.block_slots, *self.head_slots)
        return len({self.pools[s] for s in names}) < len(names)


def _signature(slot: Slot, sizes: dict[str, int]) -> tuple[tuple[int, ...], bool]:
    return slot.dims(sizes), slot.bias


def infer_layout(family: BlockFamily, pieces: list[Piece] | tuple[Piece, ...], source: str = "pieces") -> Layout:
    """Depth, sizes and pools of ``pieces`` under ``family``, from shapes alone.

    Raises :class:`PuzzleError` where the shapes cannot form the family's network, or could form
    it in more than one way.
    """
    slots, head = family.slots, family.head_slots
    n = len(pieces)
    depth, rest = divmod(n - len(head), len(slots))
    if n < len(head) + len(slots) or rest:
        raise PuzzleError(
            f"{source}: {n} pieces cannot form {family.name!r} blocks ({len(slots)} pieces per block "
            f"plus {len(head)} for the head)"
        )
    for p in pieces:
        if p.bias is not None and p.bias.shape != (p.shape[0],):
            raise PuzzleError(
                f"{source}: piece {p.index} has weight {'x'.join(map(str, p.shape))} but bias of shape "
                f"{tuple(p.bias.shape)} (expected ({p.shape[0]},))"
            )
    found = Counter(p.signature for p in pieces)
    symbols = sorted({s for slot in (*slots, *head) for s in slot.shape})
    values = sorted({dim for p in pieces for dim in p.shape})
    solutions = []
    for combo in itertools.product(values, repeat=len(symbols)):
        sizes = dict(zip(symbols, combo))
        expected: Counter = Counter()
        for s in slots:
            expected[_signature(s, sizes)] += depth
        for s in head:
            expected[_signature(s, sizes)] += 1
        if expected == found:
            solutions.append(sizes)
    if not solutions:
        summary = ", ".join(
            f"{k} x {'x'.join(map(str, shape))}{'+bias' if bias else ''}" for (shape, bias), k in sorted(found.items())
        )
        want = (
            ", ".join(f"{depth} x {s.name} {'x'.join(s.shape)}" for s in slots)
            + ", "
            + ", ".join(f"1 x {s.name} {'x'.join(s.shape)}" for s in head)
        )
        raise PuzzleError(f"{source}: shapes cannot form {family.name!r} blocks: found {summary}; expected {want}")
    if len(solutions) > 1:
        raise PuzzleError(
            f"{source}: shapes fit {family.name!r} blocks in several ways ({solutions[:3]}); cannot tell d, h and o"
        )
    sizes = solutions[0]
    fault = family.check_sizes(sizes)
    if fault:
        raise PuzzleError(f"{source}: the pieces' shapes do not fit the {family.name!r} family's options: {fault}")
    by_signature: dict[tuple, list[int]] = {}
    for p in pieces:
        by_signature.setdefault(p.signature, []).append(p.index)
    pools = {s.name: tuple(sorted(by_signature[_signature(s, sizes)])) for s in (*slots, *head)}
    return Layout(family=family, sizes=sizes, depth=depth, pools=pools)


@dataclass
class Puzzle:
    """Everything a solver may see: a block family, numbered pieces and a data set.

    Parameters
    ----------
    pieces
        The pieces, numbered ``0..n-1`` without gaps.
    X
        Inputs ``(N, d)``, float64; for a family of token sequences (``family.data_format ==
        "sequences"``) the fixed stem's output ``(N, T, d)``.
    pred
        The original model's outputs ``(N, o)`` (sequences: ``(N, T, d)``), float64 (what an
        assembly must reproduce).
    true
        The targets the model was trained on, where known (never needed to solve).
    name
        How messages name the puzzle.
    family
        The block family (an object or its name; default ``relu``). ``layout`` is inferred from it
        and the pieces' shapes, raising :class:`PuzzleError` where they cannot form the family.
    fixed
        Known tensors that are not pieces (a sequence family's stem and final norm).
    tokens
        Token sequences ``(N, T)``, indices into the fixed embedding rows (sequence families).
    """

    pieces: tuple[Piece, ...]
    X: torch.Tensor
    pred: torch.Tensor
    true: torch.Tensor | None = None
    name: str = "puzzle"
    family: BlockFamily = field(default_factory=lambda: get_family(DEFAULT_FAMILY))
    fixed: dict[str, torch.Tensor] = field(default_factory=dict)
    tokens: torch.Tensor | None = None
    layout: Layout = field(init=False)

    def __post_init__(self) -> None:
        if isinstance(self.family, str):
            self.family = get_family(self.family)
        self.pieces = tuple(sorted(self.pieces, key=lambda p: p.index))
        ids = [p.index for p in self.pieces]
        if ids != list(range(len(ids))):
            raise PuzzleError(f"{self.name}: piece numbers must be 0..{len(ids) - 1} without gaps, got {ids[:10]}...")
        self.layout = infer_layout(self.family, self.pieces, source=self.name)
        if self.family.data_format == "sequences":
            self._check_sequences()
            return
        if self.pred.ndim == 1:
            self.pred = self.pred[:, None]
        if self.true is not None and self.true.ndim == 1:
            self.true = self.true[:, None]
        d, o = self.layout.sizes["d"], self.layout.sizes.get("o")
        if self.X.ndim != 2 or self.X.shape[1] != d:
            raise PuzzleError(f"{self.name}: data has {tuple(self.X.shape)} inputs but the pieces need {d} columns")
        if self.pred.shape != (self.X.shape[0], o):
            raise PuzzleError(
                f"{self.name}: pred has shape {tuple(self.pred.shape)}, expected ({self.X.shape[0]}, {o})"
            )

    def _check_sequences(self) -> None:
        d, fam = self.layout.sizes["d"], self.family
        if self.X.ndim != 3 or self.X.shape[-1] != d:
            raise PuzzleError(
                f"{self.name}: states have shape {tuple(self.X.shape)}; the {fam.name!r} pieces need (N, T, {d})"
            )
        if self.pred.shape != self.X.shape:
            raise PuzzleError(f"{self.name}: pred has shape {tuple(self.pred.shape)}, expected {tuple(self.X.shape)}")
        check_fixed(fam, self.fixed, d, self.name)

    @property
    def depth(self) -> int:
        return self.layout.depth

    @property
    def n_rows(self) -> int:
        return int(self.X.shape[0])


def check_fixed(family: BlockFamily, fixed: dict[str, torch.Tensor], d: int, source: str) -> None:
    """Check that ``fixed`` holds exactly the family's fixed tensors, each of its shape's rank with
    width ``d`` where the shape says ``d``."""
    want = family.fixed_shapes
    if set(fixed) != set(want):
        raise PuzzleError(
            f"{source}: fixed tensors {sorted(fixed)} do not match the {family.name!r} family's {sorted(want)}"
        )
    for name, shape in want.items():
        got = tuple(fixed[name].shape)
        if len(got) != len(shape) or any(s == "d" and g != d for s, g in zip(shape, got)) or 0 in got:
            raise PuzzleError(
                f"{source}: fixed tensor {name!r} has shape {got}, expected ({', '.join(shape)}) with d = {d}"
            )
