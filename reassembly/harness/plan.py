"""What a bench runs: puzzles × solver variants, each run named by a stable key for resuming."""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reassembly.errors import ConfigError, SolverError
from reassembly.harness.puzzles import PUZZLES_DIR, answer_path, checked_hash, file_digest, store_directory
from reassembly.harness.variants import expand, parse_spec
from reassembly.tasks import DEFAULT_TASK


def digest(payload: Any, n: int = 10) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:n]


@dataclass(frozen=True)
class PuzzleEntry:
    """A stored puzzle (solver-visible files at ``path``; its answer, if any, at ``answer``).

    ``suite`` names what the puzzle's configuration has that others in the bench do not (depth,
    family, recipe, perturbation); ``content`` is the hash of what a solver sees.
    """

    id: str
    path: str
    kind: str  # "synthetic", "real", "janestreet" or "directory"
    suite: str
    content: str
    answer: str | None = None
    seed: int | None = None
    config: dict[str, Any] = field(default_factory=dict)
    task: str = "reassembly"
    pinned: bool | None = None  # whether the content matches a suite's pin (None: not pinned)
    answer_sha: str | None = None  # SHA-256 of the answer file when planned (checked before each use)


@dataclass(frozen=True)
class SolverEntry:
    """A solver variant: name, the options it is built with, its ``get_params()`` and its label."""

    name: str
    options: dict[str, Any]
    params: dict[str, Any]
    label: str
    task: str = "reassembly"


@dataclass(frozen=True)
class Run:
    puzzle: PuzzleEntry
    solver: SolverEntry

    @property
    def key(self) -> str:
        """Puzzle (id and content) + solver + all its parameters: equal keys are the same run."""
        return digest([self.puzzle.id, self.puzzle.content, self.solver.name, self.solver.params], 16)


def plan_runs(puzzles: list[PuzzleEntry], solvers: list[SolverEntry]) -> list[Run]:
    """Every solver variant on every puzzle of its task, puzzle-major."""
    return [Run(p, s) for p in puzzles for s in solvers if s.task == p.task]


def resolve_solvers(
    specs: list[str] | None, common: dict[str, Any] | None = None, task: str | None = None
) -> list[SolverEntry]:
    """Solver variants from ``NAME[opt=value]`` specs (grids expanded; every registered solver
    where none is given, skipping plugins that fail to load), each built once to read its params.
    ``common`` options go to every variant whose solver has them. With ``task``, only that task's
    solvers (a named solver of another task is an error)."""
    from reassembly.params import Configurable
    from reassembly.registry import get_spec
    from reassembly.registry import specs as all_specs

    chosen = list(dict.fromkeys(specs)) if specs else [n for n, s in all_specs().items() if task in (None, s.task)]
    if not chosen:
        raise ConfigError(f"no solvers registered{f' for task {task!r}' if task else ''} (see `reassembly solvers`)")
    out: list[SolverEntry] = []
    for text in chosen:
        name, options = parse_spec(text)
        spec = get_spec(name)
        if task is not None and spec.task != task:
            raise SolverError(f"solver {name!r} solves task {spec.task!r}, not {task!r} (see `reassembly solvers`)")
        try:
            factory = spec.load()
        except SolverError:
            if specs:
                raise
            continue  # an unselected plugin that cannot load does not stop the bench
        known = set(factory._signature()) if isinstance(factory, type) and issubclass(factory, Configurable) else None
        for key, value in (common or {}).items():
            if known is None or key.split("__")[0] in known:
                options.setdefault(key, value)
        for variant in expand(name, options, spec.tuple_options()):
            solver = spec.make(**variant.options)
            params = solver.flat_params() if isinstance(solver, Configurable) else dict(solver.get_params())
            out.append(SolverEntry(name, variant.options, params, variant.label, spec.task))
    if common and not any(all(k in e.options for k in common) for e in out):
        raise SolverError(f"no selected solver has the option(s) {', '.join(common)}")
    seen: set[str] = set()
    unique = []
    for e in out:  # two specs with the same parameters are the same variant (the first label stays)
        ident = digest([e.name, e.params])
        if ident not in seen:
            seen.add(ident)
            unique.append(e)
    return unique


def suite_labels(configs: list[dict[str, Any]]) -> list[str]:
    """Per configuration, ``key=value`` for each option (seed aside) whose value differs across
    ``configs``; a single configuration is named by its family and depth."""
    keys = sorted({k for c in configs for k in c} - {"seed"})
    varying = [k for k in keys if len({json.dumps(c.get(k), default=str) for c in configs}) > 1]
    if not varying:
        real = [k for k in ("task_source", "task_layers") if k in keys]  # resync --from: the network, not the recipe
        varying = real or [k for k in ("block", "depth") if k in keys]
    return [" ".join(f"{k.removeprefix('recipe_')}={c.get(k)}" for k in varying) or "synthetic" for c in configs]


@contextlib.contextmanager
def generation_lock(out: Path, pid: str) -> Iterator[None]:
    """An exclusive lock, across processes, on generating puzzle ``pid`` under ``out``."""
    import fcntl
    import os

    try:
        fd = os.open(out / f".generate-{pid}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        raise ConfigError(f"{out}: cannot lock the generation of {pid} ({exc.strerror})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def synthetic_puzzles(
    configs: list[Any],
    out: Path,
    cache_dir: Path | None = None,
    progress: Any = None,
    task: str = DEFAULT_TASK,
    task_options: dict[str, Any] | None = None,
) -> list[PuzzleEntry]:
    """Generated problems of ``task`` for ``configs`` (``generators.PuzzleConfig``) and the task's
    generator options ``task_options``, stored under ``OUT``.

    A complete stored problem is reused; a new one is generated into a temporary directory first,
    so an interrupted generation leaves nothing that looks complete. ``progress(k, n, label)`` is
    called before each.
    """
    from generators.tasks import task_generator

    generate = task_generator(task, task_options)
    extra = {f"task_{k}": v for k, v in sorted((task_options or {}).items())}
    flat = [{**c.to_dict(), **extra} for c in configs]
    labels = suite_labels(flat)
    entries = []
    for k, (config, d, label) in enumerate(zip(configs, flat, labels)):
        prefix = "" if task == DEFAULT_TASK else f"{task}-"
        network = f"{config.block}-d{config.depth}"
        if "task_source" in d:  # a real network's layers (resync --from): its name and depth say what it is
            network = f"{d['task_source']}-l{d.get('task_layers') or 'all'}"
        pid = f"{prefix}{network}-{digest({x: v for x, v in d.items() if x != 'seed'})}-seed{config.seed}"

        def make(tmp: Path, k: int = k, config: Any = config, label: str = label) -> None:
            if progress:
                progress(k, len(configs), f"{label} seed {config.seed}")
            generate(
                config,
                tmp,
                cache_dir=cache_dir,
                progress=progress is not None,
                force=True,
                label=f"training {k + 1}/{len(configs)}: {label} seed {config.seed}",
            )

        entries.append(stored_entry(out, pid, make, "synthetic", label, config.seed, d, task))
    return entries


def stored_entry(
    out: Path,
    pid: str,
    make: Callable[[Path], None],
    kind: str,
    label: str,
    seed: int,
    config: dict[str, Any],
    task: str = DEFAULT_TASK,
) -> PuzzleEntry:
    """The generated puzzle ``pid`` stored under ``OUT`` (``make(tmp)`` writes it into the fresh
    directory ``tmp`` where it is not stored yet; an interrupted generation leaves nothing that
    looks complete).

    Parameters
    ----------
    out
        The bench's output directory.
    pid
        The puzzle's id.
    make
        Writes the puzzle (with ``answer.json`` and ``generation.json``) into the directory it is given.
    kind, label, seed, config
        What the entry records (``kind``: ``"synthetic"`` or ``"real"``).
    task
        The puzzle's task.
    """
    from generators.output import METADATA_NAME
    from reassembly.answer import ANSWER_NAME, load_answer

    stored, known = out / PUZZLES_DIR / pid, answer_path(out, pid)
    with generation_lock(out, pid):  # two benches generating the same puzzle: one does, the other reuses it
        if not (stored.is_dir() and known.is_file()):
            tmp = out / f".tmp-generate-{pid}"
            shutil.rmtree(tmp, ignore_errors=True)
            make(tmp)
            answer = load_answer(tmp / ANSWER_NAME) if task == DEFAULT_TASK else None
            stored, _ = store_directory(tmp, out, pid, answer, task)
            shutil.move(str(tmp / METADATA_NAME), str(out / "answers" / f"{pid}.generation.json"))
            shutil.rmtree(tmp, ignore_errors=True)
    return PuzzleEntry(
        pid,
        str(stored),
        kind,
        label,
        checked_hash(stored, task)[0],
        str(known),
        seed,
        config,
        task,
        answer_sha=file_digest(known),
    )


def real_puzzles(
    configs: list[Any],
    out: Path,
    cache_dir: Path | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> tuple[list[PuzzleEntry], list[str]]:
    """Real-network puzzles for ``configs`` (``generators.real.build.RealConfig``), stored under
    ``OUT``; those whose weights are not in the cache are left out, never fetched.

    Parameters
    ----------
    configs
        The puzzles' configurations.
    out
        The bench's output directory.
    cache_dir
        The cache holding the fetched weights (default ``$REASSEMBLY_CACHE`` or the user cache folder).
    progress
        Called as ``progress(k, n, label)`` before each puzzle is generated.

    Returns
    -------
    The stored puzzles, and one line per network left out, with the command that fetches it.
    """
    from dataclasses import asdict

    from generators.real.build import generate_real
    from generators.real.fetch import available

    reasons = {name: available(name, cache_dir) for name in dict.fromkeys(c.source for c in configs)}
    entries = []
    for k, config in enumerate(configs):
        if reasons[config.source]:
            continue
        d = asdict(config)
        label = f"{config.source} layers={config.layers or 'all'}"
        pid = f"{config.source}-l{config.layers or 'all'}-{digest({x: v for x, v in d.items() if x != 'seed'})}-seed{config.seed}"

        def make(tmp: Path, k: int = k, config: Any = config, label: str = label) -> None:
            if progress:
                progress(k, len(configs), f"{label} seed {config.seed}")
            generate_real(config, tmp, cache_dir, force=True)

        entries.append(stored_entry(out, pid, make, "real", label, config.seed, d))
    return entries, [r for r in reasons.values() if r]


def janestreet_entry(path: Path, out: Path) -> PuzzleEntry:
    """The real puzzle, stored under ``OUT`` and scored by its published SHA-256."""
    from reassembly.janestreet import janestreet_answer

    _exists(path, "--janestreet")
    stored, content = store_directory(path, out, "janestreet", janestreet_answer())
    known = answer_path(out, "janestreet")
    return PuzzleEntry(
        "janestreet", str(stored), "janestreet", "janestreet", content, str(known), answer_sha=file_digest(known)
    )


def directory_entry(path: Path, out: Path, task: str = DEFAULT_TASK) -> PuzzleEntry:
    """Any problem directory of ``task``, stored under ``OUT``; scored with its ``answer.json`` where present."""
    root = _exists(path, "--puzzle").resolve()
    pid = f"{root.name}-{digest(str(root), 6)}"
    stored, content = store_directory(root, out, pid, task=task)
    known = answer_path(out, pid)
    return PuzzleEntry(
        pid,
        str(stored),
        "directory",
        root.name,
        content,
        str(known) if known.is_file() else None,
        task=task,
        answer_sha=file_digest(known),
    )


def _exists(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise ConfigError(f"{what} {path}: directory not found")
    return path
