"""``--imports``: modules or ``.py`` files imported for their side effects (solver registrations).

They are imported in the bench's own process and again in every worker, so a solver registered at
run time with :func:`reassembly.registry.register` exists wherever it runs (as nevergrad's
``--imports``).
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from reassembly.errors import ConfigError


def import_plugin(target: str) -> ModuleType:
    """Import ``target``: a dotted module name, or the path of a ``.py`` file."""
    path = Path(target)
    if target.endswith(".py") or path.is_file():
        if not path.is_file():
            raise ConfigError(f"--imports {target}: file not found")
        digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]
        name = f"reassembly_plugin_{path.stem}_{digest}"
        if name in sys.modules:
            return sys.modules[name]
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ConfigError(f"--imports {target}: cannot be imported as a Python file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[name]
            raise ConfigError(f"--imports {target}: failed: {type(exc).__name__}: {exc}") from exc
        return module
    try:
        return importlib.import_module(target)
    except ImportError as exc:
        raise ConfigError(f"--imports {target}: no such module ({exc})") from exc
    except Exception as exc:
        raise ConfigError(f"--imports {target}: failed: {type(exc).__name__}: {exc}") from exc


def import_plugins(targets: tuple[str, ...] | list[str]) -> None:
    for target in targets:
        import_plugin(target)
