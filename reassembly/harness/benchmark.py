"""The bench as a library: :class:`Benchmark` plans puzzles × solver variants, runs what is not
stored yet, and returns a :class:`BenchResults`; ``reassembly bench`` is a thin layer over it.

What happens, in order: options are checked; a suite (if named) fixes puzzles, solvers and
timeout; plugins are imported; solver variants are resolved (options validated once, here);
puzzles are generated or stored under ``out``; a suite's pins are compared; runs whose solver
does not apply are left out (the solver's ``skip``); stored runs are kept unless ``force`` or
``retry_failed``; the rest run (isolated, timed, judged by the referee) and each row is appended
as it finishes; the CSV is rebuilt once at the end (also when interrupted).

What a caller sees while it runs goes through a :class:`BenchEvents` (the command line's prints a
progress bar; the default says nothing).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reassembly.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from reassembly.harness.plan import PuzzleEntry, Run, SolverEntry
    from reassembly.harness.results import ResultStore
    from reassembly.harness.suites import Suite

DEFAULT_OUT = Path("bench-results")
DEFAULT_TIMEOUT = 600.0


class BenchEvents:
    """What a bench tells its caller as it goes; every method does nothing here (subclass to show them)."""

    def warn(self, message: str, kind: str) -> None:
        """A warning of ``kind``: ``"broken"`` (a plugin that fails to load, left out), ``"pins"``
        (puzzles that differ from a suite's pins) or ``"left-out"`` (runs whose solver does not apply)."""

    def generating(self, done: int, total: int, label: str) -> None:
        """Puzzle ``done + 1`` of ``total`` is about to be generated (``done == total``: all ready)."""

    def planned(self, plan: BenchPlan) -> None:
        """The runs are known; ``plan.todo`` are about to run."""

    def finished(self, row: dict[str, Any]) -> None:
        """One run finished; ``row`` is its stored results row."""


@dataclass(frozen=True)
class BenchPlan:
    """What a bench will do: every run it comprises, those left out (with the solver's reason),
    and those still to run (the others are stored already)."""

    puzzles: list[PuzzleEntry]
    solvers: list[SolverEntry]
    runs: list[Run]
    left_out: list[tuple[Run, str]]
    todo: list[Run]
    store: ResultStore
    jobs: int
    threads: int
    timeout: float
    imports: tuple[str, ...] = ()

    @property
    def skipped(self) -> int:
        """Runs already stored (not redone)."""
        return len(self.runs) - len(self.todo)


@dataclass
class BenchResults:
    """The rows of a bench's runs (stored ones included), read back from its output directory.

    Parameters
    ----------
    directory
        The output directory (``results.jsonl``, ``results.csv``, ``puzzles/``, ``answers/``).
    keys
        The run keys of this bench, in plan order.
    """

    directory: Path
    keys: list[str]

    @property
    def rows(self) -> list[dict[str, Any]]:
        """This bench's rows, as stored."""
        from reassembly.harness.results import read_rows

        by_key = {r["key"]: r for r in read_rows(self.directory)}
        return [by_key[k] for k in self.keys if k in by_key]

    @property
    def frame(self) -> pd.DataFrame:
        """This bench's rows as a pandas DataFrame (one row per run)."""
        import pandas as pd

        return pd.DataFrame(self.rows)

    def summary(self) -> pd.DataFrame:
        """One line per (task, suite, variant): exact recovery, MSE, seconds (as ``reassembly report`` shows)."""
        from reassembly.harness.summary import summarize

        return summarize(self.frame)

    @property
    def csv(self) -> Path:
        from reassembly.harness.results import CSV_NAME

        return self.directory / CSV_NAME

    @property
    def jsonl(self) -> Path:
        from reassembly.harness.results import JSONL_NAME

        return self.directory / JSONL_NAME

    def __len__(self) -> int:
        return len(self.keys)


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


@dataclass
class Benchmark:
    """A bench: solver variants on generated (and optionally stored) puzzles, one results row per run.

    Every option of ``reassembly bench`` has its keyword here, with the same meaning and default.

    Parameters
    ----------
    solvers
        Solver variants, ``NAME`` or ``NAME[opt=value]`` (a list value is a grid); every registered
        solver of ``task`` when not given (or a suite's).
    solver_options
        Options for every selected solver that has them (``-o NAME=VALUE``).
    suite
        A named suite (its puzzles, pins, solvers and timeout); no generator option may be given too.
    generator
        Generator options of the synthetic puzzles (``block``, ``depth``, ``rows``, ...; ``block``
        and ``depth`` may be lists: one configuration per value).
    seeds, first_seed
        Synthetic puzzles per configuration, seeds ``first_seed .. first_seed + seeds - 1``
        (tune on seeds >= 100, report on 0-2).
    perturb
        Changes after training, as for ``reassembly generate --perturb``.
    puzzles
        Stored problem directories to run too (scored by their ``answer.json`` where present).
    janestreet
        The real Jane Street puzzle's directory, to run too.
    timeout
        Seconds per solve (default 600, or the suite's).
    jobs, threads
        Solves at a time (default: the free cores) and torch threads per solve (default: free cores / jobs).
    out
        Output directory: ``puzzles/``, ``answers/``, ``results.jsonl`` and ``results.csv``.
    cache_dir
        Trained-model cache (default ``$REASSEMBLY_CACHE`` or the user cache folder).
    force, retry_failed
        Redo runs already stored (all of them, or those that failed or timed out).
    imports
        Modules or ``.py`` files imported in every process for their registrations.
    scheduler
        Run on Dask: ``"local"`` or ``"tcp://HOST:PORT"``.
    task, task_options
        The task (``reassembly``, ``resync``, ``query``, ``blackbox`` or a plugin's) and its
        generator's options.
    """

    solvers: list[str] | None = None
    solver_options: dict[str, Any] = field(default_factory=dict)
    suite: str | None = None
    generator: dict[str, Any] = field(default_factory=dict)
    seeds: int = 3
    first_seed: int = 0
    perturb: list[str] = field(default_factory=list)
    puzzles: list[str | Path] = field(default_factory=list)
    janestreet: str | Path | None = None
    timeout: float | None = None
    jobs: int | None = None
    threads: int | None = None
    out: str | Path = DEFAULT_OUT
    cache_dir: str | Path | None = None
    force: bool = False
    retry_failed: bool = False
    imports: list[str] = field(default_factory=list)
    scheduler: str | None = None
    task: str = "reassembly"
    task_options: dict[str, Any] = field(default_factory=dict)

    def _check(self) -> None:
        for name, value, low in (
            ("seeds", self.seeds, 0),
            ("first_seed", self.first_seed, 0),
            ("jobs", 1 if self.jobs is None else self.jobs, 1),
            ("threads", 1 if self.threads is None else self.threads, 1),
        ):
            if value < low:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= {low}, got {value}")
        if self.suite is not None and self.task != "reassembly":
            raise ConfigError(f"--suite runs layer reassembly; it cannot be combined with --task {self.task}")
        if self.janestreet is not None and self.task != "reassembly":
            raise ConfigError(f"--janestreet is a layer-reassembly puzzle; it does not go with --task {self.task}")

    def _configs(self) -> tuple[list[Any], list[str] | None, Path | None, Suite | None]:
        """Synthetic configurations, solver specs, Jane Street directory and suite."""
        from generators.config import PuzzleConfig

        generator = dict(self.generator)
        janestreet = Path(self.janestreet) if self.janestreet is not None else None
        if self.suite is not None:
            from reassembly.harness.suites import get_suite
            from reassembly.janestreet import find_janestreet

            suite = get_suite(self.suite)
            given = [k for k, v in generator.items() if v not in (None, [])]
            if given:
                raise ConfigError(f"--suite {suite.name} fixes its puzzles; drop --{given[0].replace('_', '-')}")
            configs = [
                PuzzleConfig.from_options({**options, "seed": s}) for options in suite.puzzles for s in suite.seeds
            ]
            if suite.janestreet and janestreet is None:
                janestreet = find_janestreet()
            return configs, list(self.solvers or suite.solvers), janestreet, suite
        if not self.seeds:
            return [], self.solvers, janestreet, None
        blocks = _listed(generator.pop("block", None)) or [None]
        depths = _listed(generator.pop("depth", None)) or [None]
        configs = [
            PuzzleConfig.from_options({**generator, "block": b, "depth": d, "seed": s}, list(self.perturb))
            for b in blocks
            for d in depths
            for s in range(self.first_seed, self.first_seed + self.seeds)
        ]
        return configs, self.solvers, janestreet, None

    def plan(self, events: BenchEvents | None = None) -> BenchPlan:
        """Check the options, store the puzzles (generating what is missing) and plan the runs.

        Parameters
        ----------
        events
            Told of warnings and generation progress (default: nothing is shown).
        """
        from reassembly.harness import plan as planning
        from reassembly.harness.applicability import applicable, left_out_line
        from reassembly.harness.bench import default_jobs
        from reassembly.harness.plugins import import_plugins
        from reassembly.harness.puzzles import check_out
        from reassembly.harness.results import ResultStore
        from reassembly.tasks import get_task

        events = events or BenchEvents()
        self._check()
        configs, solver_specs, janestreet, suite = self._configs()
        timeout = self.timeout if self.timeout is not None else (suite.timeout if suite else DEFAULT_TIMEOUT)
        if not timeout > 0:
            raise ConfigError(f"--timeout must be a positive number of seconds, got {timeout}")
        get_task(self.task)
        imports = import_plugins(list(self.imports))
        solvers = planning.resolve_solvers(solver_specs, dict(self.solver_options), self.task)
        if not solver_specs:
            from reassembly.registry import broken

            for message in broken(self.task).values():
                events.warn(message, "broken")
        out = Path(self.out)
        check_out(out)
        puzzles = [planning.janestreet_entry(janestreet, out)] if janestreet is not None else []
        puzzles += [planning.directory_entry(Path(p), out, self.task) for p in self.puzzles]
        cache = Path(self.cache_dir) if self.cache_dir is not None else None
        shown = type(events).generating is not BenchEvents.generating  # else generation is silent too
        if configs:
            puzzles = (
                planning.synthetic_puzzles(
                    configs, out, cache, events.generating if shown else None, self.task, dict(self.task_options)
                )
                + puzzles
            )
            events.generating(len(configs), len(configs), "puzzles ready")
        missing: list[str] = []
        if suite is not None and suite.real:
            real = real_configs(suite)
            found, missing = planning.real_puzzles(real, out, cache, events.generating if shown else None)
            for line in missing:
                events.warn(f"suite {suite.name!r} leaves out a real network: {line}", "left-out")
            puzzles = found + puzzles
            events.generating(len(real), len(real), "puzzles ready")
        if not puzzles:
            raise ConfigError(
                f"nothing to run: {'; '.join(missing)}"
                if missing
                else "nothing to run: --seeds is 0 and no --janestreet or --puzzle was given"
            )
        if suite is not None:
            puzzles = pin(suite, puzzles, events)
        runs, left = applicable(planning.plan_runs(puzzles, solvers))
        if left:
            events.warn(left_out_line(left) or "", "left-out")
        store = ResultStore(out)
        stored = store.statuses()
        redo = {
            r.key
            for r in runs
            if r.key in stored and (self.force or (self.retry_failed and stored[r.key] in ("error", "timeout")))
        }
        store.remove(redo)
        todo = [r for r in runs if r.key not in stored or r.key in redo]
        jobs = self.jobs or default_jobs()
        threads = self.threads or max(1, default_jobs() // jobs)
        plan = BenchPlan(puzzles, solvers, runs, left, todo, store, jobs, threads, timeout, imports)
        events.planned(plan)
        return plan

    def run(self, events: BenchEvents | None = None) -> BenchResults:
        """Plan, run what is not stored yet, and return the rows of every planned run.

        An interruption (``KeyboardInterrupt``) keeps the rows stored so far (the same bench
        resumes from there) and is raised again.

        Parameters
        ----------
        events
            Told of warnings, progress and each finished run (default: nothing is shown).
        """
        from reassembly.harness.bench import execute
        from reassembly.harness.runner import RunOptions

        events = events or BenchEvents()
        plan = self.plan(events)
        options = RunOptions(timeout=plan.timeout, imports=plan.imports, threads=plan.threads)
        try:
            execute(plan.todo, plan.store, options, plan.jobs, self.scheduler, lambda done: events.finished(done.row))
        finally:
            plan.store.rebuild_csv()
        return BenchResults(Path(self.out), [r.key for r in plan.runs])


def real_configs(suite: Suite) -> list[Any]:
    """The ``RealConfig`` of every real-network puzzle of ``suite``, each configuration at each seed.

    Parameters
    ----------
    suite
        The suite.
    """
    from generators.real.build import RealConfig

    return [RealConfig(**{**options, "seed": s}) for options in suite.real for s in suite.seeds]


def pin(suite: Suite, puzzles: list[PuzzleEntry], events: BenchEvents) -> list[PuzzleEntry]:
    """Puzzles marked with whether they match the suite's pins; a warning names those that do not.

    Parameters
    ----------
    suite
        The suite whose pins are compared.
    puzzles
        The bench's stored puzzles.
    events
        Told of the puzzles that differ.
    """
    from reassembly.harness.suites import check_pins

    differs = set(check_pins(suite, {p.id: p.content for p in puzzles}))
    if differs:
        events.warn(
            f"{len(differs)} puzzle(s) differ from the ones suite {suite.name!r} pins "
            f"(generation is not bit-stable across machines; compare results only on equal content): "
            + ", ".join(sorted(differs)[:5]),
            "pins",
        )
    return [dataclasses.replace(p, pinned=(p.id not in differs) if p.id in suite.pins else None) for p in puzzles]


def bench(events: BenchEvents | None = None, **options: Any) -> BenchResults:
    """Run a bench: ``bench(solvers=["fast"], generator={"depth": 4}, seeds=1, out="results")``.

    Parameters
    ----------
    events
        Told of warnings, progress and each finished run (default: nothing is shown).
    **options
        The options of :class:`Benchmark`.
    """
    return Benchmark(**options).run(events)
