"""Permutable units of a network as data: which tensors' axes index each layer's units.

A :class:`UnitGroup` names one layer's units (``units`` of them) and its *members*: tensors of a
flat state dict, the axis that indexes the units (``units * size`` entries along it: ``size`` is 1
for MLP units and ``head_dim`` for attention heads), the member's *side* (``in``: the parameters
that compute the unit, ``out``: those that read it) and the exponent of a positive per-unit
factor that may scale it without changing the function (ReLU: ``in`` by ``s``, ``out`` by ``1/s``).

A group may sit *within* another (grouped-query attention: the query heads within the key-value
heads): its units fall into ``outer.units`` runs of consecutive units, one run per outer unit, and
a permutation that keeps the function moves each run as a whole with its outer unit (reordering
the units inside it freely).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from reassembly.errors import PuzzleError

State = Mapping[str, torch.Tensor]
SIDES = ("in", "out")


@dataclass(frozen=True)
class Member:
    """One tensor that carries a group's units along ``axis``."""

    tensor: str
    axis: int
    side: str = "in"
    exponent: int = 0

    def to_json(self) -> list[Any]:
        return [self.tensor, self.axis, self.side, self.exponent]


@dataclass(frozen=True)
class UnitGroup:
    """One layer's permutable units and the tensors that carry them (``within``: the name of the
    group whose units hold this group's units in runs; ``None`` where free)."""

    name: str
    units: int
    members: tuple[Member, ...]
    within: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = {"name": self.name, "units": self.units, "members": [m.to_json() for m in self.members]}
        return out if self.within is None else {**out, "within": self.within}

    @classmethod
    def from_json(cls, data: Any, source: str = "groups") -> UnitGroup:
        """A group from its JSON form; a one-line :class:`PuzzleError` for anything malformed."""
        try:
            members = tuple(Member(str(t), int(a), str(s), int(e)) for t, a, s, e in data["members"])
            within = data.get("within")
            group = cls(str(data["name"]), int(data["units"]), members, None if within is None else str(within))
        except (KeyError, TypeError, ValueError) as exc:
            raise PuzzleError(f"{source}: malformed unit group {str(data)[:80]!r} ({exc})") from None
        if group.units < 1 or not members or any(m.side not in SIDES for m in members):
            raise PuzzleError(f"{source}: unit group {group.name!r} needs units >= 1 and members of side in/out")
        return group


def check_groups(groups: tuple[UnitGroup, ...], state: State, source: str) -> None:
    """Every member exists in ``state`` with ``units * size`` entries along its axis."""
    for g in groups:
        for m in g.members:
            t = state.get(m.tensor)
            if t is None:
                raise PuzzleError(f"{source}: tensor {m.tensor!r} of unit group {g.name!r} is missing")
            if not -t.ndim <= m.axis < t.ndim or t.shape[m.axis] % g.units:
                raise PuzzleError(
                    f"{source}: tensor {m.tensor!r} of shape {tuple(t.shape)} has no axis {m.axis} "
                    f"holding {g.units} units"
                )


def outer_groups(groups: tuple[UnitGroup, ...]) -> list[int | None]:
    """Per group, the index of the group it sits within (``None``: free); a :class:`PuzzleError`
    where that group is not an earlier one whose units divide this group's."""
    index = {g.name: k for k, g in enumerate(groups)}
    out: list[int | None] = []
    for k, g in enumerate(groups):
        if g.within is None:
            out.append(None)
            continue
        j = index.get(g.within)
        if j is None or j >= k or g.units % groups[j].units:
            raise PuzzleError(f"unit group {g.name!r} sits within {g.within!r}, which is no earlier group dividing it")
        out.append(j)
    return out


def allowed_pairs(outer_perm: torch.Tensor, units: int) -> torch.Tensor:
    """``(units, units)`` booleans: which of the copy's inner units may be the reference's inner
    unit ``i`` once the outer units are matched (``outer_perm[a]``: the copy's outer unit that is
    the reference's outer unit ``a``)."""
    run = units // len(outer_perm)
    block = torch.arange(units) // run
    return outer_perm[block][:, None] == block[None, :]


def draw_perms(groups: tuple[UnitGroup, ...], gen: torch.Generator) -> list[torch.Tensor]:
    """A random function-preserving permutation per group (``perm[i]``: the old unit that becomes
    unit ``i``), each inner group's runs moving with its outer group's units."""
    outer = outer_groups(groups)
    perms: list[torch.Tensor] = []
    for g, j in zip(groups, outer):
        if j is None:
            perms.append(torch.randperm(g.units, generator=gen))
            continue
        run = g.units // groups[j].units
        perms.append(
            torch.cat([perms[j][b] * run + torch.randperm(run, generator=gen) for b in range(groups[j].units)])
        )
    return perms


def unit_rows(state: State, member: Member, units: int) -> torch.Tensor:
    """The member's entries unit by unit: ``(units, features)`` (a unit's ``size`` slices flattened)."""
    t = state[member.tensor].movedim(member.axis, 0)
    return t.reshape(units, -1)


def unit_matrix(state: State, group: UnitGroup, side: str | None = None) -> torch.Tensor:
    """The members (of ``side``, or all) concatenated per unit: ``(units, features)`` in float64."""
    parts = [unit_rows(state, m, group.units) for m in group.members if side is None or m.side == side]
    return torch.cat(parts, dim=1).double()


def _expand(perm: torch.Tensor, size: int) -> torch.Tensor:
    """Unit permutation → index of the ``units * size`` entries along a member's axis."""
    return (perm[:, None] * size + torch.arange(size)).reshape(-1)


def permute_state(state: State, groups: tuple[UnitGroup, ...], perms: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` with each group's units reordered: unit ``i`` of the result is unit ``perms[g][i]``."""
    out = dict(state)
    for g, perm in zip(groups, perms):
        for m in g.members:
            t = out[m.tensor]
            out[m.tensor] = t.index_select(m.axis, _expand(perm, t.shape[m.axis] // g.units))
    return out


def scale_units(
    state: State, group: UnitGroup, scale: torch.Tensor, sides: tuple[str, ...] = SIDES, use_exponents: bool = True
) -> dict[str, torch.Tensor]:
    """``state`` with each unit of ``group`` multiplied by ``scale[u] ** exponent`` in each member of
    ``sides`` (``use_exponents=False``: by ``scale[u]`` itself)."""
    out = dict(state)
    for m in group.members:
        if m.side not in sides:
            continue
        t = out[m.tensor]
        size = t.shape[m.axis] // group.units
        power = m.exponent if use_exponents else 1
        factor = scale.to(t.dtype).pow(power).repeat_interleave(size)
        shape = [1] * t.ndim
        shape[m.axis] = -1
        out[m.tensor] = t * factor.reshape(shape)
    return out
