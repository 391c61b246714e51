"""Task families, by name (layer reassembly is the default)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from reassembly.errors import ConfigError

if TYPE_CHECKING:
    from reassembly.tasks.base import Task

DEFAULT_TASK = "reassembly"
_TASKS: dict[str, str] = {"reassembly": "reassembly.tasks.reassembly:ReassemblyTask",
                          "resync": "reassembly.tasks.resync:ResyncTask",
                          "query": "reassembly.tasks.query:QueryTask",
                          "blackbox": "reassembly.tasks.blackbox:BlackboxTask"}
_loaded: dict[str, "Task"] = {}


def task_names() -> list[str]:
    return list(_TASKS)


def get_task(name: str) -> "Task":
    """The task called ``name`` (imported on first use)."""
    import importlib

    if name not in _TASKS:
        raise ConfigError(f"unknown task {name!r}; choose from {', '.join(_TASKS)}")
    if name not in _loaded:
        module, _, attr = _TASKS[name].partition(":")
        _loaded[name] = getattr(importlib.import_module(module), attr)()
    return _loaded[name]
