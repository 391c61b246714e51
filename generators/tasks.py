"""The synthetic problem generator of each task, by task name.

Each is called as ``generate(config, out_dir, cache_dir=..., progress=..., force=..., label=...,
**task_options)`` and writes the problem, its ``answer.json`` and ``generation.json`` into
``out_dir``; layer reassembly takes no task options.
"""
from __future__ import annotations

import functools
import importlib
import inspect
from typing import Any, Callable

from reassembly.errors import ConfigError

GENERATORS = {
    "reassembly": "generators.build:generate",
    "resync": "generators.resync:generate_resync",
    "query": "generators.query:generate_query",
    "blackbox": "generators.blackbox:generate_blackbox",
}


def generator_for(task: str) -> Callable[..., Any]:
    """The generator of ``task`` (a :class:`ConfigError` for a task without one)."""
    if task not in GENERATORS:
        raise ConfigError(f"task {task!r} has no synthetic problems; choose from {', '.join(GENERATORS)}")
    module, _, attr = GENERATORS[task].partition(":")
    return getattr(importlib.import_module(module), attr)


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
