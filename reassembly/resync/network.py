"""A residual network of a block family as a flat state dict, its unit groups and its forward.

Tensor names: ``blocks.<k>.<slot>.weight`` / ``.bias`` for block ``k`` and ``head.<slot>.weight`` /
``.bias`` for the head. Each block is one unit group: the slots with a ``hidden_axis`` carry its
``h`` units (a bias where that axis is 0), ``read`` slots on the ``in`` side, ``write`` slots on
the ``out`` side, with the family's rescaling exponents.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from reassembly.errors import PuzzleError
from reassembly.families.base import BlockFamily, Params, SlotParams
from reassembly.resync.units import Member, State, UnitGroup


def tensor_name(where: str, slot: str, kind: str = "weight") -> str:
    return f"{where}.{slot}.{kind}"


def block_groups(family: BlockFamily, depth: int, hidden: int) -> tuple[UnitGroup, ...]:
    """One unit group per block: its hidden units."""
    groups = []
    for k in range(depth):
        members = []
        for s in family.slots:
            if s.hidden_axis is None:
                continue
            side = "out" if s.role == "write" else "in"
            power = family.rescaling.get(s.name, 0)
            members.append(Member(tensor_name(f"blocks.{k}", s.name), s.hidden_axis, side, power))
            if s.bias and s.hidden_axis == 0:
                members.append(Member(tensor_name(f"blocks.{k}", s.name, "bias"), 0, side, power))
        groups.append(UnitGroup(f"block{k}", hidden, tuple(members)))
    return tuple(groups)


def expected_names(family: BlockFamily, depth: int) -> list[str]:
    names = []
    for where, slots in [*((f"blocks.{k}", family.slots) for k in range(depth)), ("head", family.head_slots)]:
        for s in slots:
            names.append(tensor_name(where, s.name))
            if s.bias:
                names.append(tensor_name(where, s.name, "bias"))
    return names


def check_state(family: BlockFamily, depth: int, state: State, source: str) -> dict[str, int]:
    """The sizes ``d``, ``h``, ``o`` of a state dict that holds exactly the family's tensors at ``depth``."""
    want = expected_names(family, depth)
    if sorted(state) != sorted(want):
        missing, extra = sorted(set(want) - set(state)), sorted(set(state) - set(want))
        raise PuzzleError(
            f"{source}: tensors do not form {depth} {family.name!r} blocks and a head "
            f"(missing {missing[:4]}, unexpected {extra[:4]})"
        )
    sizes: dict[str, int] = {}
    for where, slots in [*((f"blocks.{k}", family.slots) for k in range(depth)), ("head", family.head_slots)]:
        for s in slots:
            w = state[tensor_name(where, s.name)]
            if w.ndim != len(s.shape):
                raise PuzzleError(
                    f"{source}: {tensor_name(where, s.name)} has shape {tuple(w.shape)}, expected {'x'.join(s.shape)}"
                )
            for sym, dim in zip(s.shape, w.shape):
                if sizes.setdefault(sym, int(dim)) != int(dim):
                    raise PuzzleError(
                        f"{source}: {tensor_name(where, s.name)} has shape {tuple(w.shape)}, "
                        f"inconsistent with {sym} = {sizes[sym]}"
                    )
            if s.bias and tuple(state[tensor_name(where, s.name, "bias")].shape) != (w.shape[0],):
                raise PuzzleError(
                    f"{source}: {tensor_name(where, s.name, 'bias')} does not match its weight {tuple(w.shape)}"
                )
    return sizes


def slot_params(state: State, where: str, slots: Iterable, dtype: torch.dtype) -> Params:
    out = {}
    for s in slots:
        b = state.get(tensor_name(where, s.name, "bias"))
        out[s.name] = SlotParams(state[tensor_name(where, s.name)].to(dtype), None if b is None else b.to(dtype))
    return out


def block_states(family: BlockFamily, depth: int, state: State, X: torch.Tensor) -> list[torch.Tensor]:
    """The residual states entering each block and the final one (``depth + 1`` tensors), float64."""
    h = X.double()
    states = [h]
    for k in range(depth):
        h = family.block(slot_params(state, f"blocks.{k}", family.slots, torch.float64), h)
        states.append(h)
    return states


def forward(family: BlockFamily, depth: int, state: State, X: torch.Tensor) -> torch.Tensor:
    """The network's outputs on ``X`` in float64."""
    h = block_states(family, depth, state, X)[-1]
    return family.head(slot_params(state, "head", family.head_slots, torch.float64), h)
