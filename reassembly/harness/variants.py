"""Solver variants on the command line: ``name``, ``name[opt=value, part__opt=value]`` and grids
``name[opt=[2,3]]`` (one variant per combination, as benchopt's ``solver[p=[1,2]]``).

A list is a grid, except where the option itself takes a tuple and the list holds plain values
(``rows=[512,1024]`` is one value of ``rows``; ``rows=[[512],[256,512]]`` is a grid of two).
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from typing import Any

from reassembly.errors import SolverError

_SPEC = re.compile(r"^\s*([A-Za-z0-9_.:-]+)\s*(?:\[(.*)\])?\s*$", re.S)


@dataclass(frozen=True)
class Variant:
    """A solver name and the options it is built with."""

    name: str
    options: dict[str, Any]

    @property
    def label(self) -> str:
        """``name`` or ``name[opt=value, ...]``: what tables and plots call this variant."""
        if not self.options:
            return self.name
        return f"{self.name}[{', '.join(f'{k}={json.dumps(v)}' for k, v in sorted(self.options.items()))}]"


def _split(text: str) -> list[str]:
    """Top-level comma-separated items (commas inside brackets or quotes do not split)."""
    items, depth, quote, cur = [], 0, "", ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(cur)
            cur = ""
            continue
        cur += ch
    if cur.strip():
        items.append(cur)
    return items


def _value(text: str) -> Any:
    text = text.strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text.strip("'\"")


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"fast[search__patience=20, rows=[512,1024]]"`` → ``("fast", {...})`` (values not yet expanded)."""
    m = _SPEC.match(spec)
    if not m:
        raise SolverError(f"solver {spec!r}: expected NAME or NAME[option=value, ...]")
    name, body = m.group(1), m.group(2) or ""
    options: dict[str, Any] = {}
    for item in _split(body):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SolverError(f"solver {spec!r}: option {item.strip()!r} must look like NAME=VALUE")
        options[key.strip().replace("-", "_")] = _value(value)
    return name, options


def expand(name: str, options: dict[str, Any], tuple_options: set[str] = frozenset()) -> list[Variant]:
    """One :class:`Variant` per combination of the grid options (see the module docstring)."""
    axes: list[list[tuple[str, Any]]] = []
    for key, value in options.items():
        plain_tuple = key in tuple_options and isinstance(value, list) and not any(isinstance(v, list) for v in value)
        values = value if isinstance(value, list) and not plain_tuple else [value]
        if not values:
            raise SolverError(f"solver {name}: option {key} has an empty list of values")
        axes.append([(key, v) for v in values])
    return [Variant(name, dict(combo)) for combo in itertools.product(*axes)] if axes else [Variant(name, {})]
