"""Built-in block families, selectable by name (``relu`` is the Jane Street block and the default).

Names are known without importing torch (``FAMILY_NAMES``); the family objects load on first use.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from reassembly.errors import PuzzleError

if TYPE_CHECKING:
    from reassembly.families.base import BlockFamily

DEFAULT_FAMILY = "relu"
FAMILY_NAMES = ("relu", "gelu", "silu", "prenorm", "swiglu")
_FAMILIES: dict[str, "BlockFamily"] = {}


def families() -> dict[str, "BlockFamily"]:
    """Every built-in family by name."""
    if not _FAMILIES:
        from reassembly.families.mlp import MLPFamily, PreNormFamily
        from reassembly.families.swiglu import SwiGLUFamily

        for f in (MLPFamily("relu"), MLPFamily("gelu"), MLPFamily("silu"), PreNormFamily(), SwiGLUFamily()):
            _FAMILIES[f.name] = f
    return _FAMILIES


def get_family(name: str) -> "BlockFamily":
    """The family called ``name``, or a :class:`PuzzleError` listing the known ones."""
    found = families().get(name) if isinstance(name, str) else None
    if found is None:
        raise PuzzleError(f"unknown block family {name!r}; choose from {', '.join(FAMILY_NAMES)}")
    return found


__all__ = ["DEFAULT_FAMILY", "FAMILY_NAMES", "families", "get_family"]
