"""Entry points: one mechanism for everything that plugs in (Gymnasium's ``EnvSpec``, pytest's entry points):
a :class:`PluginSpec` per name, found in an entry-point group or given built in, resolved lazily.

Groups: ``reassembly.solvers`` (and ``reassembly.solvers.<task>``), ``reassembly.tasks``,
``reassembly.families`` and ``reassembly.generators``. Listing names imports nothing; a plugin
that fails to import fails loudly with its own name and package in the message, when it is used.
(``--imports``, modules imported for their run-time registrations, is :mod:`reassembly.harness.plugins`.)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from reassembly.errors import ReassemblyError

TASKS_GROUP = "reassembly.tasks"
FAMILIES_GROUP = "reassembly.families"
GENERATORS_GROUP = "reassembly.generators"


@dataclass(frozen=True)
class PluginSpec:
    """A named thing that plugs in: where it lives (``"module:attr"`` or the object itself) and who
    provides it (``built-in``, ``plugin PACKAGE`` or ``runtime``).

    Parameters
    ----------
    name
        The name it is selected by.
    target
        ``"module:attr"`` (imported on :meth:`load`) or the object itself.
    source
        Who provides it, as listings and error messages say.
    group
        The entry-point group it was found in (``""`` for built-in ones).
    """

    name: str
    target: str | Any
    source: str = "built-in"
    group: str = ""

    def load(self, what: str = "plugin", error: type[ReassemblyError] = ReassemblyError) -> Any:
        """The object, imported on first use; ``error`` (naming ``what``, the name and its source) where that fails."""
        if not isinstance(self.target, str):
            return self.target
        module, _, attr = self.target.partition(":")
        try:
            obj: Any = importlib.import_module(module)
            for part in attr.split(".") if attr else []:
                obj = getattr(obj, part)
        except Exception as exc:
            raise error(
                f"{what} {self.name!r} (from {self.source}: {self.target}) failed to load: {type(exc).__name__}: {exc}"
            ) from None
        return obj


def source_of(ep: EntryPoint) -> str:
    """``built-in`` for this package's own entry points, else ``plugin PACKAGE``."""
    dist = getattr(ep, "dist", None)
    name = dist.name if dist is not None else "?"
    return "built-in" if name == "reassembly" else f"plugin {name}"


def group_entry_points(prefix: str, subgroups: bool = False) -> Iterator[EntryPoint]:
    """The entry points of group ``prefix`` (and of ``prefix.<anything>`` with ``subgroups``), groups sorted."""
    found = entry_points()
    groups = found.groups if hasattr(found, "groups") else set(found)  # type: ignore[attr-defined]
    chosen = sorted(g for g in groups if g == prefix or (subgroups and g.startswith(prefix + ".")))
    for group in chosen:
        yield from entry_points(group=group)


def discover(group: str, built_in: dict[str, str | Any] | None = None) -> dict[str, PluginSpec]:
    """Specs by name: ``built_in`` first, then the group's entry points (a plugin may not take a
    built-in name: the built-in one stays).

    Parameters
    ----------
    group
        The entry-point group (``reassembly.tasks``, ``reassembly.families``, ...).
    built_in
        This package's own, by name (``"module:attr"`` or the object).
    """
    specs = {name: PluginSpec(name, target) for name, target in (built_in or {}).items()}
    for ep in group_entry_points(group):
        if ep.name not in specs:
            specs[ep.name] = PluginSpec(ep.name, ep.value, source_of(ep), ep.group)
    return specs


def load_named(
    group: str,
    built_in: dict[str, str | Any],
    name: str,
    what: str,
    error: type[ReassemblyError],
    make: Callable[[Any], Any] = lambda obj: obj,
) -> Any:
    """``make(obj)`` of the object registered as ``name`` in ``group`` (or built in), or ``error``
    listing the names there are.

    Parameters
    ----------
    group, built_in
        Where to look (see :func:`discover`).
    name
        The name asked for.
    what
        What it is, for messages (``task``, ``block family``, ...).
    error
        The error type raised.
    make
        Turns the loaded object into the thing asked for (a class into an instance, ...).
    """
    # a built-in name is known without reading any package's metadata (a solve's process asks once per run)
    specs = {name: PluginSpec(name, built_in[name])} if name in built_in else discover(group, built_in)
    if name not in specs:
        raise error(f"unknown {what} {name!r}; choose from {', '.join(specs)}")
    spec = specs[name]
    obj = spec.load(what, error)
    try:
        return make(obj)
    except ReassemblyError:
        raise
    except Exception as exc:
        raise error(
            f"{what} {name!r} (from {spec.source}: {spec.target}) failed to build: {type(exc).__name__}: {exc}"
        ) from None
