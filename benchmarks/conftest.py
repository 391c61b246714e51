"""Fixtures for the pytest-benchmark suites: the real puzzle and a cached synthetic depth-48 puzzle.

Run ``pytest benchmarks --benchmark-autosave`` to time and store a run, ``--benchmark-compare`` to
compare with the last stored one, and ``--benchmark-disable`` to run every body once (as CI does).
"""

from __future__ import annotations

import os

import pytest

SYNTHETIC_DEPTH = 48
FULL_ENV = "REASSEMBLY_BENCH_FULL"


def pytest_benchmark_update_machine_info(config, machine_info) -> None:  # noqa: ARG001 (pytest hook)
    """Record what the timings depend on beside the CPU: torch's version and thread count."""
    import torch

    from reassembly.harness.environment import environment

    machine_info["torch_threads"] = torch.get_num_threads()
    machine_info["reassembly_env"] = environment()


@pytest.fixture(scope="session")
def janestreet_puzzle():
    """The real puzzle and its hash-only answer, or a skip saying where it is looked for."""
    from reassembly.errors import PuzzleError
    from reassembly.janestreet import JANESTREET_ENV, find_janestreet, janestreet_answer
    from reassembly.loader import load_puzzle

    try:
        path = find_janestreet()
    except PuzzleError as exc:
        pytest.skip(str(exc))
    if path is None:
        pytest.skip(f"Jane Street puzzle not found: put it at ../shared/janestreet or set ${JANESTREET_ENV}")
    return load_puzzle(path), janestreet_answer()


@pytest.fixture(scope="session")
def synthetic_puzzle():
    """The default-recipe synthetic depth-48 puzzle (seed 0) and its answer, from a model in the
    generators' cache. Where it is not cached yet, skip, unless ``REASSEMBLY_BENCH_FULL=1`` allows
    training it (minutes on 2 cores; ``reassembly bench --depth 48`` caches it too)."""
    try:
        from generators import ModelCache, PuzzleConfig, build_puzzle
    except ImportError as exc:
        pytest.skip(f"generators package unavailable: {exc}")
    config = PuzzleConfig(depth=SYNTHETIC_DEPTH, seed=0)
    cache = ModelCache()
    if os.environ.get(FULL_ENV) != "1" and not cache.paths(config.cache_key())[1].is_file():
        pytest.skip(
            f"the depth-{SYNTHETIC_DEPTH} seed-0 model is not in the cache {cache.root}; run "
            f"`reassembly bench --depth {SYNTHETIC_DEPTH}` once or set {FULL_ENV}=1 to train it here"
        )
    return build_puzzle(config, progress=False)[:2]
