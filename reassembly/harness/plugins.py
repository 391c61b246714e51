"""``--imports``: modules or ``.py`` files imported for their side effects (solver registrations).

They are imported in the command's own process and again in every worker, so a solver registered
at run time with :func:`reassembly.registry.register` exists wherever it runs (as nevergrad's
``--imports``). A module name is looked up from the current folder too; a file's folder goes on
``sys.path`` and the file is imported under its own name, so ``register("x", "mymod:X")`` inside
``mymod.py`` resolves in every process.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

from reassembly.errors import ConfigError


def resolve(targets: list[str] | tuple[str, ...], cwd: str | Path | None = None) -> tuple[str, ...]:
    """Targets as the workers need them: files as absolute paths, module names prefixed with the
    folder they are looked up from (``folder::module``)."""
    base = Path(cwd or Path.cwd()).resolve()
    out = []
    for target in targets:
        path = Path(target)
        if target.endswith(".py") or path.is_file():
            full = path if path.is_absolute() else base / path
            if not full.is_file():
                raise ConfigError(f"--imports {target}: file not found")
            out.append(str(full.resolve()))
        else:
            out.append(f"{base}::{target}")
    return tuple(out)


def _front(folder: str) -> None:
    if folder not in sys.path:
        sys.path.insert(0, folder)


def import_plugin(target: str) -> ModuleType:
    """Import one resolved target (see :func:`resolve`)."""
    if "::" in target:
        folder, _, name = target.rpartition("::")
        _front(folder)
    else:
        path = Path(target)
        _front(str(path.parent))
        name = path.stem
        loaded = sys.modules.get(name)
        if loaded is not None and Path(getattr(loaded, "__file__", "") or "").resolve() != path:
            raise ConfigError(
                f"--imports {target}: a different module named {name!r} is already imported; rename the file"
            )
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ConfigError(f"--imports {name}: no such module ({exc})") from None
    except Exception as exc:
        raise ConfigError(f"--imports {name}: failed: {type(exc).__name__}: {exc}") from None


def import_plugins(targets: list[str] | tuple[str, ...], resolved: bool = False) -> tuple[str, ...]:
    """Import every target (resolving them first unless ``resolved``); returns the resolved targets."""
    done = tuple(targets) if resolved else resolve(targets)
    for target in done:
        import_plugin(target)
    return done
