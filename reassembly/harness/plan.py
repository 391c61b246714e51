"""What a bench runs: puzzles × solvers, each run named by a stable key for resuming."""
from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reassembly.errors import ConfigError, PuzzleError

PUZZLES_DIR = "puzzles"


def _digest(payload: Any, n: int = 10) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:n]


@dataclass(frozen=True)
class PuzzleEntry:
    """A puzzle directory to solve and how it is scored.

    ``answer_sha256`` is the published hash where only that is known (Jane Street); otherwise
    the worker reads ``DIR/answer.json`` after the solver has returned.
    """

    id: str
    path: str
    kind: str  # "synthetic", "janestreet" or "directory"
    suite: str  # puzzles that are summarised together
    seed: int | None = None
    config: dict[str, Any] = field(default_factory=dict)
    answer_sha256: str | None = None


@dataclass(frozen=True)
class SolverEntry:
    """A solver name, the options it is built with, and its resulting ``get_params()``."""

    name: str
    options: dict[str, Any]
    params: dict[str, Any]


@dataclass(frozen=True)
class Run:
    puzzle: PuzzleEntry
    solver: SolverEntry

    @property
    def key(self) -> str:
        """Puzzle id + solver + solver params + seed: equal keys are the same run."""
        return _digest([self.puzzle.id, self.solver.name, self.solver.params, self.puzzle.seed], 16)


def plan_runs(puzzles: list[PuzzleEntry], solvers: list[SolverEntry]) -> list[Run]:
    """Every solver on every puzzle, puzzle-major (all solvers finish a puzzle before the next)."""
    return [Run(p, s) for p in puzzles for s in solvers]


def resolve_solvers(names: list[str] | None, options: dict[str, Any] | None = None) -> list[SolverEntry]:
    """Solvers ``names`` (all registered ones where empty), each built once here to read its params."""
    from reassembly.registry import get_solver, list_solvers

    chosen = list(dict.fromkeys(names)) if names else list_solvers()
    if not chosen:
        raise ConfigError("no solvers registered (see `reassembly solvers`)")
    out = []
    for name in chosen:
        solver = get_solver(name, **(options or {}))
        out.append(SolverEntry(name=name, options=dict(options or {}), params=dict(solver.get_params())))
    return out


def config_id(config: dict[str, Any]) -> str:
    """Short hash of a puzzle configuration without its seed (one id per suite of seeds)."""
    return _digest({k: v for k, v in config.items() if k != "seed"})


def synthetic_puzzles(
    configs: list[Any], out_dir: Path, cache_dir: Path | None = None, progress: bool = True
) -> list[PuzzleEntry]:
    """Generated puzzles for ``configs`` (``generators.PuzzleConfig``) under ``OUT/puzzles/<config-id>-seed<k>``.

    An existing complete directory is reused; a new one is written to a temporary directory first,
    so an interrupted generation leaves nothing that looks complete. The trained model comes from
    the generators' cache.
    """
    from generators import generate

    entries = []
    for config in configs:
        flat = config.to_dict()
        cid = config_id(flat)
        pid = f"{cid}-seed{config.seed}"
        final = out_dir / PUZZLES_DIR / pid
        if not (final / "answer.json").is_file():
            tmp = final.with_name(f".tmp-{pid}")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            generate(config, tmp, cache_dir=cache_dir, progress=progress)
            shutil.rmtree(final, ignore_errors=True)
            tmp.rename(final)
        suite = f"d{config.depth}-w{config.width}-h{config.hidden}-{cid[:6]}"
        entries.append(PuzzleEntry(pid, str(final), "synthetic", suite, config.seed, flat))
    return entries


def _check_directory(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise PuzzleError(f"{what} {path}: directory not found")
    if not (path / "historical_data.csv").is_file() or not (path / "pieces").is_dir():
        raise PuzzleError(f"{what} {path}: not a puzzle directory (needs pieces/ and historical_data.csv)")
    return path.resolve()


def janestreet_entry(path: Path) -> PuzzleEntry:
    """The real puzzle, scored by its published SHA-256."""
    from reassembly.janestreet import janestreet_answer

    root = _check_directory(path, "--janestreet")
    return PuzzleEntry("janestreet", str(root), "janestreet", "janestreet", None, {}, janestreet_answer().sha256)


def directory_entry(path: Path) -> PuzzleEntry:
    """Any puzzle directory; scored with its ``answer.json`` where present (MSE only otherwise)."""
    root = _check_directory(path, "--puzzle")
    return PuzzleEntry(f"{root.name}-{_digest(str(root), 6)}", str(root), "directory", root.name)
