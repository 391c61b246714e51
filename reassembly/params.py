"""scikit-learn-style configuration for solvers and their parts.

Every option is an ``__init__`` argument stored under its own name; nothing is computed there.
:class:`Configurable` gives ``get_params(deep=True)`` (nested parts as ``part__option``),
``set_params(part__option=...)``, validation of every value against the declared type and
``constraints``, and one-line help read from the numpy-style "Parameters" section of the class
docstring. :func:`clone` copies a configuration without any fitted state.
"""

from __future__ import annotations

import copy
import inspect
import math
import re
import sys
import types
import typing
from dataclasses import dataclass
from typing import Any

from reassembly.errors import SolverError


@dataclass(frozen=True)
class Interval:
    """A numeric range (``None``: unbounded on that side); ``closed`` says whether ends are allowed."""

    low: float | None = None
    high: float | None = None
    closed: bool = True

    def admits(self, v: float) -> bool:
        lo = self.low is None or (v >= self.low if self.closed else v > self.low)
        hi = self.high is None or (v <= self.high if self.closed else v < self.high)
        return lo and hi

    def __str__(self) -> str:
        lo = "-inf" if self.low is None else f"{self.low:g}"
        hi = "inf" if self.high is None else f"{self.high:g}"
        return f"{'[' if self.closed else '('}{lo}, {hi}{']' if self.closed else ')'}"


@dataclass(frozen=True)
class OneOf:
    """A finite set of allowed values."""

    values: tuple[Any, ...]

    def admits(self, v: Any) -> bool:
        return v in self.values

    def __str__(self) -> str:
        return "one of " + ", ".join(map(str, self.values))


def _check_type(value: Any, hint: Any) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any or hint is inspect.Parameter.empty:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_check_type(value, a) for a in args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if origin is tuple:
        return isinstance(value, (tuple, list)) and all(_check_type(v, args[0]) for v in value)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True


def _type_name(hint: Any) -> str:
    return re.sub(r"\b(typing|builtins)\.", "", str(hint).replace("<class '", "").replace("'>", ""))


class Configurable:
    """Base of anything configured scikit-learn style (solvers and the parts they are built from).

    Subclasses may set ``constraints`` (option name → :class:`Interval` or :class:`OneOf`); types
    come from the ``__init__`` annotations.
    """

    constraints: dict[str, Interval | OneOf] = {}

    @classmethod
    def _signature(cls) -> dict[str, inspect.Parameter]:
        params: dict[str, inspect.Parameter] = {}
        for klass in cls.__mro__:
            if "__init__" in klass.__dict__ and klass not in (object, Configurable):
                for n, p in inspect.signature(klass.__init__).parameters.items():
                    if n != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                        params.setdefault(n, p)
        return params

    @classmethod
    def _hints(cls) -> dict[str, Any]:
        hints: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            if "__init__" in klass.__dict__ and klass not in (object, Configurable):
                try:
                    hints.update(typing.get_type_hints(klass.__init__, vars(sys.modules[klass.__module__])))
                except Exception:  # unresolvable annotations: no type check for them
                    pass
        return hints

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Options by name; with ``deep``, each part's options too, as ``part__option``."""
        out: dict[str, Any] = {}
        for name in self._signature():
            value = getattr(self, name)
            out[name] = value
            if deep and isinstance(value, Configurable):
                out.update({f"{name}__{k}": v for k, v in value.get_params(deep=True).items()})
        return out

    def flat_params(self) -> dict[str, Any]:
        """Every option, parts' as ``part__option``, without the part objects themselves (what a
        results row records)."""
        return {k: v for k, v in self.get_params(deep=True).items() if not isinstance(v, Configurable)}

    def resolve(self, key: str) -> str:
        """``key`` as a full option path: an option of a part may be named without its part
        (``max_shift`` for ``descent__max_shift``) where exactly one part has it."""
        if "__" in key or key in self._signature():
            return key
        owners = [
            f"{name}__{key}"
            for name, value in self.get_params(deep=False).items()
            if isinstance(value, Configurable) and key in value.get_params(deep=True)
        ]
        if len(owners) > 1:
            raise SolverError(f"{type(self).__name__}: option {key!r} is ambiguous; say {' or '.join(owners)}")
        return owners[0] if owners else key

    def set_params(self, **params: Any) -> Configurable:
        """Set options, ``part__option`` reaching into parts (or a part's option by its own name, where
        only one part has it); unknown names raise :class:`SolverError`."""
        valid = self._signature()
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            name, sep, sub = self.resolve(key).partition("__")
            if name not in valid:
                raise SolverError(f"{type(self).__name__} has no option {name!r}; options: {', '.join(valid)}")
            if sep:
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
        for name, sub_params in nested.items():
            part = getattr(self, name)
            if not isinstance(part, Configurable):
                raise SolverError(f"{type(self).__name__}.{name} is not a part with options of its own")
            part.set_params(**sub_params)
        return self

    def validate(self, prefix: str = "") -> None:
        """Check every option (and every part's) against its type and constraint; one-line errors."""
        hints = self._hints()
        for name in self._signature():
            value = getattr(self, name)
            where = f"{prefix}{name}"
            if isinstance(value, Configurable):
                value.validate(f"{where}__")
                continue
            hint = hints.get(name, Any)
            if not _check_type(value, hint):
                raise SolverError(f"option {where}: expected {_type_name(hint)}, got {value!r}")
            rule = self.constraints.get(name)
            if rule is not None and value is not None:
                values = value if isinstance(value, (tuple, list)) else (value,)
                if not all(rule.admits(v) for v in values):
                    raise SolverError(f"option {where}: must be {rule}, got {value!r}")

    @classmethod
    def param_help(cls) -> dict[str, str]:
        """First line of each option's description in the class docstring's "Parameters" section."""
        doc = inspect.cleandoc(cls.__doc__ or "")
        section = re.search(r"Parameters\n-+\n(.*?)(?:\n\n[A-Z][a-z]+\n-+\n|\Z)", doc, re.S)
        out: dict[str, str] = {}
        if section:
            for m in re.finditer(r"^(\w+(?:, \w+)*)(?: : [^\n]*)?\n((?:[ \t]+[^\n]*\n?)*)", section.group(1), re.M):
                for name in (n.strip() for n in m.group(1).split(",")):
                    out[name] = " ".join(m.group(2).split()).split(". ")[0].rstrip(".")
        return out

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params(deep=False).items())
        return f"{type(self).__name__}({args})"


def clone(obj: Any) -> Any:
    """A new object with the same configuration (parts cloned in turn, other values deep-copied)."""
    if not isinstance(obj, Configurable):
        return copy.deepcopy(obj)
    return type(obj)(**{k: clone(v) for k, v in obj.get_params(deep=False).items()})
