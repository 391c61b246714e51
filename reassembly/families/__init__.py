"""Built-in block families, selectable by name (``relu`` is the Jane Street block and the default).

Names are known without importing torch (``FAMILY_NAMES``: the families of tables of input vectors,
which the generators train; ``SEQUENCE_FAMILY_NAMES``: layers of real transformers, with per-puzzle
options); the family objects load on first use. Other packages add families through the
entry-point group ``reassembly.families`` (``name = "module:FamilyClass"``, built with no arguments,
or with a puzzle's family options); :func:`family_names` lists them too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from reassembly.entrypoints import FAMILIES_GROUP, discover, load_named
from reassembly.errors import PuzzleError

if TYPE_CHECKING:
    from reassembly.families.base import BlockFamily

DEFAULT_FAMILY = "relu"
FAMILY_NAMES = ("relu", "gelu", "silu", "prenorm", "swiglu")
SEQUENCE_FAMILY_NAMES = ("bert", "llama")
ALL_FAMILY_NAMES = FAMILY_NAMES + SEQUENCE_FAMILY_NAMES
_FAMILIES: dict[str, BlockFamily] = {}


def _factories() -> dict[str, Callable[..., BlockFamily]]:
    from reassembly.families.bert import BertFamily
    from reassembly.families.llama import LlamaFamily
    from reassembly.families.mlp import MLPFamily, PreNormFamily
    from reassembly.families.swiglu import SwiGLUFamily

    return {
        "relu": lambda: MLPFamily("relu"),
        "gelu": lambda: MLPFamily("gelu"),
        "silu": lambda: MLPFamily("silu"),
        "prenorm": PreNormFamily,
        "swiglu": SwiGLUFamily,
        "bert": BertFamily,
        "llama": LlamaFamily,
    }


def families() -> dict[str, BlockFamily]:
    """Every built-in family by name (with default options)."""
    if not _FAMILIES:
        for name, make in _factories().items():
            _FAMILIES[name] = make()
    return _FAMILIES


def family_names() -> tuple[str, ...]:
    """Every family's name: the built-in ones, then the plugins' (imports nothing)."""
    return ALL_FAMILY_NAMES + tuple(n for n in discover(FAMILIES_GROUP) if n not in ALL_FAMILY_NAMES)


def trainable_family_names() -> tuple[str, ...]:
    """Families the generators can train (tables of input vectors): the built-in ones and the plugins'."""
    return FAMILY_NAMES + tuple(n for n in discover(FAMILIES_GROUP) if n not in ALL_FAMILY_NAMES)


def get_family(name: str, options: dict[str, Any] | None = None) -> BlockFamily:
    """The family called ``name`` (configured with ``options`` where given), or a
    :class:`PuzzleError` listing the known ones or naming the bad option.

    Parameters
    ----------
    name
        A built-in family's name or one registered in the ``reassembly.families`` entry-point group.
    options
        The family's options (a puzzle's ``family_options``), where it takes any.
    """
    found = families().get(name) if isinstance(name, str) else None
    if found is None and isinstance(name, str) and name not in ALL_FAMILY_NAMES:
        found = _plugin(name)
    if found is None:
        from reassembly.safeio import short

        raise PuzzleError(f"unknown block family {short(name, 80)}; choose from {', '.join(family_names())}")
    if not options:
        return found
    if not found.options:
        raise PuzzleError(f"family {name!r} takes no options, got {sorted(options)[:10]}")
    try:
        return type(found)(**options)
    except PuzzleError:
        raise
    except (TypeError, ValueError, OverflowError) as exc:
        raise PuzzleError(f"family {name!r}: bad options ({str(exc)[:200]})") from None


def _plugin(name: str) -> BlockFamily | None:
    if name not in _PLUGINS:
        if name not in discover(FAMILIES_GROUP):
            return None
        family = load_named(FAMILIES_GROUP, {}, name, "block family", PuzzleError, lambda cls: cls())
        if not family.name:
            family.name = name
        _PLUGINS[name] = family
    return _PLUGINS[name]


_PLUGINS: dict[str, BlockFamily] = {}

__all__ = [
    "ALL_FAMILY_NAMES",
    "DEFAULT_FAMILY",
    "FAMILY_NAMES",
    "SEQUENCE_FAMILY_NAMES",
    "families",
    "family_names",
    "get_family",
    "trainable_family_names",
]
