"""Task families, by name (layer reassembly is the default): this package's, and any installed
package's through the entry-point group ``reassembly.tasks`` (``name = "module:TaskClass"``;
see :mod:`reassembly.entrypoints`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reassembly.entrypoints import TASKS_GROUP, discover, load_named
from reassembly.errors import ConfigError

if TYPE_CHECKING:
    from reassembly.tasks.base import Task

DEFAULT_TASK = "reassembly"
_TASKS: dict[str, str] = {
    "reassembly": "reassembly.tasks.reassembly:ReassemblyTask",
    "resync": "reassembly.tasks.resync:ResyncTask",
    "query": "reassembly.tasks.query:QueryTask",
    "blackbox": "reassembly.tasks.blackbox:BlackboxTask",
}
_loaded: dict[str, Task] = {}


def task_names() -> list[str]:
    """Every task's name, built-in ones first (imports nothing)."""
    return list(discover(TASKS_GROUP, _TASKS))


def get_task(name: str) -> Task:
    """The task called ``name`` (imported and built on first use).

    Parameters
    ----------
    name
        A built-in task's name or one registered in the ``reassembly.tasks`` entry-point group.
    """
    if name not in _loaded:
        task = load_named(TASKS_GROUP, _TASKS, name, "task", ConfigError, lambda cls: cls())
        if not task.name:
            task.name = name
        _loaded[name] = task
    return _loaded[name]
