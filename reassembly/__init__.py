"""reassembly: benchmark algorithms that put a dropped residual network back together.

The bench is a library call as well as a command (``reassembly bench``)::

    from reassembly import Benchmark

    results = Benchmark(solvers=["fast"], generator={"depth": 4}, seeds=1, out="results").run()
    results.frame  # one pandas row per run

``Benchmark``, ``BenchResults`` and ``bench`` are loaded on first use, so ``import reassembly``
stays light.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Benchmark": "reassembly.harness.benchmark",
    "BenchResults": "reassembly.harness.benchmark",
    "BenchEvents": "reassembly.harness.benchmark",
    "bench": "reassembly.harness.benchmark",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'reassembly' has no attribute {name!r}")


__all__ = ["BenchEvents", "BenchResults", "Benchmark", "__version__", "bench"]
