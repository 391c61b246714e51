"""Solver registry in the style of Gymnasium's: named specs resolved lazily.

Solvers come from the entry-point group ``reassembly.solvers`` (layer reassembly) or
``reassembly.solvers.<task>`` (another task family), from this package and any installed
third-party package, and from :func:`register` at run time. Listing names imports nothing; a
broken plugin fails loudly with its own name in the message, and only when it is used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reassembly.entrypoints import PluginSpec, group_entry_points, source_of
from reassembly.errors import SolverError
from reassembly.params import Configurable
from reassembly.solver import Solver

ENTRY_POINT_GROUP = "reassembly.solvers"


@dataclass(frozen=True)
class SolverSpec:
    """A registered solver: where it lives (``"module:attr"`` or a callable) and default options."""

    name: str
    entry_point: str | Callable[..., Solver]
    kwargs: dict[str, Any] = field(default_factory=dict)
    source: str = "runtime"
    task: str = "reassembly"

    def load(self) -> Callable[..., Solver]:
        obj = PluginSpec(self.name, self.entry_point, self.source).load("solver", SolverError)
        if not callable(obj):
            raise SolverError(f"solver {self.name!r} ({self.entry_point}) is not a class or factory")
        return obj

    def make(self, **overrides: Any) -> Solver:
        """Build the solver with its default options updated by ``overrides`` (``part__option``
        reaches into parts); every option is validated by the solver's own declared types and ranges."""
        factory = self.load()
        accepted = (
            set(factory._signature()) if isinstance(factory, type) and issubclass(factory, Configurable) else None
        )
        merged = {**self.kwargs, **overrides}
        own = {k: v for k, v in merged.items() if "__" not in k and (accepted is None or k in accepted)}
        nested = {k: v for k, v in merged.items() if k not in own}
        try:
            solver = factory(**own)
        except TypeError as exc:
            raise SolverError(f"solver {self.name!r}: bad options {sorted(overrides)}: {exc}") from None
        if not isinstance(solver, Solver):
            raise SolverError(
                f"solver {self.name!r} ({self.entry_point}) made {type(solver).__name__}, "
                "which has no solve()/get_params()"
            )
        if isinstance(solver, Configurable):
            try:
                if nested:
                    solver.set_params(**nested)
                solver.validate()
            except SolverError as exc:
                raise SolverError(f"solver {self.name!r}: {exc}") from None
        elif nested:
            raise SolverError(f"solver {self.name!r} has no nested options ({', '.join(nested)})")
        return solver

    def tuple_options(self) -> set[str]:
        """Options declared as tuples (a list value on the command line is then one value, not a grid)."""
        factory = self.load()
        if not (isinstance(factory, type) and issubclass(factory, Configurable)):
            return set()
        return {k for k, hint in factory._hints().items() if "tuple" in str(hint)}


_runtime: dict[str, SolverSpec] = {}


def register(
    name: str, entry_point: str | Callable[..., Solver], task: str = "reassembly", **kwargs: Any
) -> SolverSpec:
    """Register a solver of ``task`` for this process (entry points are the way for installed packages)."""
    spec = SolverSpec(name=name, entry_point=entry_point, kwargs=kwargs, task=task)
    _runtime[name] = spec
    return spec


def unregister(name: str) -> None:
    _runtime.pop(name, None)


def specs() -> dict[str, SolverSpec]:
    """All solver specs by name: entry points first, run-time registrations override."""
    found: dict[str, SolverSpec] = {}
    for ep in group_entry_points(ENTRY_POINT_GROUP, subgroups=True):
        task = ep.group.removeprefix(ENTRY_POINT_GROUP).lstrip(".") or "reassembly"
        found[ep.name] = SolverSpec(name=ep.name, entry_point=ep.value, source=source_of(ep), task=task)
    found.update(_runtime)
    return dict(sorted(found.items()))


def list_solvers() -> list[str]:
    return list(specs())


def broken(task: str | None = None) -> dict[str, str]:
    """Plugins (every solver not built in) of ``task`` (``None``: any) that fail to load, with the
    message naming them; built-in solvers are not imported.

    Parameters
    ----------
    task
        Only this task's solvers; ``None`` for all.
    """
    out = {}
    for name, spec in specs().items():
        if spec.source != "built-in" and task in (None, spec.task):
            try:
                spec.load()
            except SolverError as exc:
                out[name] = str(exc)
    return out


def get_spec(name: str) -> SolverSpec:
    available = specs()
    if name not in available:
        raise SolverError(f"unknown solver {name!r}; available: {', '.join(available) or 'none'}")
    return available[name]


def get_solver(name: str, **overrides: Any) -> Solver:
    """Build solver ``name`` with its default options updated by ``overrides``."""
    return get_spec(name).make(**overrides)
