"""Pieces stacked by pool for batched evaluation, and arrangements that index them.

An *arrangement* is a ``(D, S)`` integer tensor: ``arr[t, s]`` is the row, in the stack of slot
``s``'s pool, of the piece at position ``t``, slot ``s``. Batches of candidate arrangements are
``(B, D, S)``. :meth:`PieceStack.arrangement` and :meth:`PieceStack.assembly` convert between
arrangements and :class:`~reassembly.answer.Assembly` (piece ids).
"""

from __future__ import annotations

from functools import cached_property

import torch

from reassembly.answer import Assembly
from reassembly.families.base import CompiledBlock, Params, SlotParams
from reassembly.puzzle import Puzzle


class PieceStack:
    """Every pool's pieces stacked in ``dtype``: weights ``(P, *shape)`` and biases ``(P, m)``.

    Parameters
    ----------
    puzzle
        The puzzle whose pieces are stacked (by the pools of its layout).
    dtype
        Floating type of evaluation.
    """

    def __init__(self, puzzle: Puzzle, dtype: torch.dtype = torch.float64) -> None:
        layout = puzzle.layout
        self.layout = layout
        self.family = puzzle.family
        self.dtype = dtype
        self.slots = layout.block_slots
        self.pool_ids: dict[str, tuple[int, ...]] = {s: layout.pools[s] for s in (*self.slots, *layout.head_slots)}
        self._row = {s: {pid: r for r, pid in enumerate(ids)} for s, ids in self.pool_ids.items()}
        stacks: dict[tuple[int, ...], SlotParams] = {}
        for ids in self.pool_ids.values():
            if ids not in stacks:
                pieces = [puzzle.pieces[i] for i in ids]
                w = torch.stack([p.weight for p in pieces]).to(dtype)
                b = torch.stack([p.bias for p in pieces]).to(dtype) if pieces[0].bias is not None else None
                stacks[ids] = SlotParams(w, b)
        self.tensors: dict[str, SlotParams] = {s: stacks[ids] for s, ids in self.pool_ids.items()}
        self.fixed: Params = {k: SlotParams(v.to(dtype)) for k, v in puzzle.fixed.items()}  # known, not pieces
        self._compiled: dict[tuple[int, ...], CompiledBlock] = {}

    @cached_property
    def rows(self) -> dict[str, list[SlotParams]]:
        """Per slot, each pool row's tensors as views (indexing a list is cheaper than a tensor in loops)."""
        out = {}
        for s, (w, b) in self.tensors.items():
            out[s] = [SlotParams(w[r], None if b is None else b[r]) for r in range(w.shape[0])]
        return out

    def at(self, row: list[int] | tuple[int, ...]) -> Params:
        """Tensors of one position (``row``: one pool row per block slot)."""
        rows = self.rows
        return {s: rows[s][r] for s, r in zip(self.slots, row)}

    def compiled(self, row: list[int] | tuple[int, ...]) -> CompiledBlock:
        """The compiled block of one position (cached by pool rows)."""
        key = tuple(row)
        fn = self._compiled.get(key)
        if fn is None:
            fn = self._compiled[key] = self.family.compile(self.at(key))
        return fn

    def gather(self, idx: torch.Tensor) -> Params:
        """Batched tensors for ``idx`` ``(B, S)``: each slot's weights ``(B, *shape)``."""
        out = {}
        for j, s in enumerate(self.slots):
            w, b = self.tensors[s]
            k = idx[:, j]
            out[s] = SlotParams(w[k], None if b is None else b[k])
        return out

    def head(self, assembly_head: tuple[int, ...]) -> Params:
        """Tensors of the head's pieces (by piece id), with the puzzle's fixed tensors."""
        names = self.layout.head_slots
        return {**self.fixed, **{s: self.rows[s][self._row[s][pid]] for s, pid in zip(names, assembly_head)}}

    def arrangement(self, assembly: Assembly) -> torch.Tensor:
        """The ``(D, S)`` arrangement of ``assembly``'s blocks."""
        return torch.tensor(
            [[self._row[s][pid] for s, pid in zip(self.slots, block)] for block in assembly.blocks], dtype=torch.long
        ).reshape(len(assembly.blocks), len(self.slots))

    def assembly(self, arr: torch.Tensor, head: tuple[int, ...]) -> Assembly:
        """The assembly of arrangement ``arr`` with head piece ids ``head``."""
        ids = [self.pool_ids[s] for s in self.slots]
        blocks = tuple(tuple(ids[j][r] for j, r in enumerate(row)) for row in arr.tolist())
        return Assembly(blocks, tuple(head))
