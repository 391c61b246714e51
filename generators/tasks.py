"""The synthetic problem generator of each task, by task name.

Each is called as ``generate(config, out_dir, cache_dir=..., progress=..., force=..., label=...,
**task_options)`` and writes the problem, its ``answer.json`` and ``generation.json`` into
``out_dir``; layer reassembly takes no task options. A plugin task's generator is registered in the
entry-point group ``reassembly.generators`` under the task's name (``name = "module:function"``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from reassembly.entrypoints import GENERATORS_GROUP, discover
from reassembly.errors import ConfigError

GENERATORS = {
    "reassembly": "generators.build:generate",
    "resync": "generators.resync:generate_resync",
    "query": "generators.query:generate_query",
    "blackbox": "generators.blackbox:generate_blackbox",
}


def generator_for(task: str) -> Callable[..., Any]:
    """The generator of ``task`` (a :class:`ConfigError` for a task without one).

    Parameters
    ----------
    task
        A task's name; its generator is built in or registered in ``reassembly.generators``.
    """
    found = discover(GENERATORS_GROUP, GENERATORS)
    if task not in found:
        raise ConfigError(f"task {task!r} has no synthetic problems; choose from {', '.join(found)}")
    return found[task].load("generator", ConfigError)


def task_generator(task: str, options: dict[str, Any] | None = None) -> Callable[..., Any]:
    """The generator of ``task`` with its task ``options`` bound (unknown ones: a :class:`ConfigError`)."""
    generate = generator_for(task)
    own = [n for n, p in inspect.signature(generate).parameters.items() if p.kind == p.KEYWORD_ONLY or n not in BASE]
    unknown = sorted(set(options or {}) - set(own))
    if unknown:
        accepted = ", ".join(own) or "none"
        raise ConfigError(f"task {task!r} has no generator option(s) {', '.join(unknown)} (it takes: {accepted})")
    return functools.partial(generate, **(options or {}))


BASE = ("config", "out_dir", "cache_dir", "progress", "use_cache", "force", "label")
