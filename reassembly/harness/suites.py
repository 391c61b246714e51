"""Named benchmark suites (registered like Gymnasium environments): a published comparison is one
command, ``reassembly bench --suite NAME``, and ``reassembly suites`` lists them.

A suite fixes its puzzles (generator options and seeds, optionally the Jane Street puzzle) and its
solver variants, and pins each generated puzzle by the hash of what a solver sees. Generation is
not bit-stable across machines (BLAS and CPU differ), so a run says when a puzzle it generated
differs from the pinned one: results on different content are not comparable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reassembly.errors import ConfigError

PINS = Path(__file__).with_name("suite_pins.json")


@dataclass(frozen=True)
class Suite:
    """A registered suite.

    Parameters
    ----------
    name, description
        How it is listed.
    puzzles
        Generator options of each configuration (``block``, ``depth``, ... as for ``generate``).
    seeds
        Generator seeds of every configuration.
    solvers
        Solver variants (``NAME`` or ``NAME[opt=value]``).
    janestreet
        Whether the real Jane Street puzzle is part of it (where it can be found).
    real
        Real-network puzzles, each ``RealConfig`` options but the seed (``{"source": "smollm2",
        "layers": 6}``: the first 6 layers, as ``generate --from smollm2 --layers 6``); left out,
        with the command that fetches them, where the weights are not in the cache.
    timeout
        Seconds per solve.
    """

    name: str
    description: str
    puzzles: tuple[dict[str, Any], ...]
    seeds: tuple[int, ...] = (0, 1, 2)
    solvers: tuple[str, ...] = ("fast", "paper")
    janestreet: bool = False
    real: tuple[dict[str, Any], ...] = ()
    timeout: float = 600.0
    pins: dict[str, str] = field(default_factory=dict)


_SUITES: dict[str, Suite] = {}


def register_suite(suite: Suite) -> Suite:
    """Register ``suite`` under its name (replacing one of the same name); its pins come from the pin file."""
    pins = json.loads(PINS.read_text()).get(suite.name, {}) if PINS.is_file() else {}
    _SUITES[suite.name] = Suite(**{**suite.__dict__, "pins": {**pins, **suite.pins}})
    return _SUITES[suite.name]


def suites() -> dict[str, Suite]:
    return dict(_SUITES)


def get_suite(name: str) -> Suite:
    if name not in _SUITES:
        raise ConfigError(f"unknown suite {name!r}; available: {', '.join(_SUITES)} (see 'reassembly suites')")
    return _SUITES[name]


def check_pins(suite: Suite, contents: dict[str, str]) -> list[str]:
    """Puzzle ids whose content differs from the suite's pins (unpinned puzzles are not reported)."""
    return sorted(pid for pid, digest in contents.items() if pid in suite.pins and suite.pins[pid] != digest)


FAMILIES = ("relu", "gelu", "silu", "prenorm", "swiglu")

for _suite in (
    Suite("quick", "a smoke test: relu depth 8, two seeds, fast and paper (seconds)", ({"depth": 8},), seeds=(0, 1)),
    Suite(
        "default",
        "the main job: relu depth 48 (the Jane Street sizes), seeds 0-2, every built-in solver, "
        "and the Jane Street puzzle",
        ({"depth": 48},),
        solvers=("fast", "paper", "paper-hillclimb", "cosine"),
        janestreet=True,
    ),
    Suite(
        "families",
        "every block family at depths 16 and 48, seeds 0-2: fast and paper (paper where it applies)",
        tuple({"block": b, "depth": d} for b in FAMILIES for d in (16, 48)),
    ),
    Suite(
        "depth",
        "fast on relu nets of depth 16 to 128, seeds 0-2",
        tuple({"depth": d} for d in (16, 32, 48, 64, 96, 128)),
        solvers=("fast",),
    ),
    Suite(
        "real",
        "the depth ladder of real transformers: SmolLM2-135M's first 6, 12, 18, 24 and 30 layers and "
        "all-MiniLM-L6-v2, seeds 0-2, transformer (needs 'reassembly fetch smollm2' and 'reassembly fetch minilm')",
        (),
        solvers=("transformer",),
        real=tuple({"source": "smollm2", "layers": k} for k in (6, 12, 18, 24, 30))
        + ({"source": "minilm", "layers": 6},),
    ),
):
    register_suite(_suite)
