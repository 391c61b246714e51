"""A residual network of a block family as a flat state dict, its unit groups and its forward.

Tensor names: ``blocks.<k>.<slot>.weight`` / ``.bias`` for block ``k`` and ``head.<slot>.weight`` /
``.bias`` for the head. Each block is one unit group: the slots with a ``hidden_axis`` carry its
``h`` units (a bias where that axis is 0), ``read`` slots on the ``in`` side, ``write`` slots on
the ``out`` side, with the family's rescaling exponents.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch

from reassembly.errors import PuzzleError
from reassembly.families.base import BlockFamily, Params, SlotParams
from reassembly.resync.units import Member, State, UnitGroup


def tensor_name(where: str, slot: str, kind: str = "weight") -> str:
    return f"{where}.{slot}.{kind}"


def block_groups(family: BlockFamily, depth: int, sizes: Mapping[str, int]) -> tuple[UnitGroup, ...]:
    """The unit groups of every block, in block order.

    A block's slots with a hidden axis fall into groups by the size symbol of that axis and the
    family's head count of the slot: an MLP's hidden units (one unit per index), a transformer
    layer's attention heads (one unit per head of ``size / heads`` indices; grouped attention:
    key-value heads, and query heads within them as ``family.shared_heads`` says). A block of one
    group names it ``block<k>``, else each group is ``block<k>.<its first slot>``.

    Parameters
    ----------
    family
        The block family.
    depth
        Blocks.
    sizes
        The symbols' sizes (``d``, ``h``, ...), as :func:`check_state` returns them.
    """
    kinds: dict[tuple[str, int], list] = {}
    for s in family.slots:
        if s.hidden_axis is not None:
            kinds.setdefault((s.shape[s.hidden_axis], family.heads(s.name)), []).append(s)
    outer_of = {inner: outer for inner, outer in family.shared_heads.items()}
    groups = []
    for k in range(depth):
        names = {}
        for slots in kinds.values():
            names[slots[0].name] = f"block{k}" if len(kinds) == 1 else f"block{k}.{slots[0].name}"
        for (symbol, heads), slots in _outer_first(kinds, outer_of):
            members = []
            for s in slots:
                side = "out" if s.role == "write" else "in"
                power = family.rescaling.get(s.name, 0)
                members.append(Member(tensor_name(f"blocks.{k}", s.name), s.hidden_axis, side, power))
                if s.bias and s.hidden_axis == 0:
                    members.append(Member(tensor_name(f"blocks.{k}", s.name, "bias"), 0, side, power))
            units = heads if heads > 1 else sizes[symbol]
            outer = outer_of.get(slots[0].name)
            within = None if outer is None else names[_first_slot(kinds, outer)]
            groups.append(UnitGroup(names[slots[0].name], units, tuple(members), within))
    return tuple(groups)


def _outer_first(kinds: dict[tuple[str, int], list], outer_of: dict[str, str]) -> list[tuple[tuple[str, int], list]]:
    """The groups in slot order, each inner group right after its outer group."""
    ordered = [kv for kv in kinds.items() if kv[1][0].name not in outer_of]
    for kv in kinds.items():
        if kv[1][0].name in outer_of:
            outer = _first_slot(kinds, outer_of[kv[1][0].name])
            at = next(i for i, o in enumerate(ordered) if o[1][0].name == outer)
            ordered.insert(at + 1, kv)
    return ordered


def _first_slot(kinds: dict[tuple[str, int], list], slot: str) -> str:
    """The first slot of the group that ``slot`` belongs to."""
    return next(slots[0].name for slots in kinds.values() if any(s.name == slot for s in slots))


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


def forward(family: BlockFamily, depth: int, state: State, X: torch.Tensor, fixed: State | None = None) -> torch.Tensor:
    """The network's outputs on ``X`` in float64.

    Parameters
    ----------
    family, depth
        The network's block family and blocks.
    state
        Its tensors (:func:`tensor_name` names).
    X
        Input states: rows ``(n, d)``, or the stem's states of token sequences ``(n, T, d)``.
    fixed
        Known tensors that are not in ``state`` (a sequence family's final norm), read by the head.
    """
    h = block_states(family, depth, state, X)[-1]
    known = {k: SlotParams(v.double()) for k, v in (fixed or {}).items()}
    return family.head({**known, **slot_params(state, "head", family.head_slots, torch.float64)}, h)
