"""``reassembly bench`` and ``reassembly report``."""
from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from reassembly.cli.common import console, output_file, parse_options
from reassembly.cli.generator_options import with_generator_options
from reassembly.cli.solving import IMPORTS_HELP
from reassembly.errors import ConfigError

DEFAULT_OUT = Path("bench-results")
OUTCOMES = {"solved": "[green]solved[/]", "missed": "[yellow]missed[/]", "answered": "[cyan]answered[/]",
            "timeout": "[yellow]timeout[/]", "error": "[red]error[/]", "unsupported": "[blue]unsupported[/]"}


def outcome(row: dict[str, Any]) -> str:
    """What a finished run came to: ``solved`` (exact), ``missed`` (scored, not exact), ``answered``
    (scored, no known answer to compare), or its status (``timeout``, ``error``, ``unsupported``)."""
    if row["status"] != "ok":
        return str(row["status"])
    return "answered" if row.get("exact") is None else ("solved" if row["exact"] else "missed")


def progress_line(row: dict[str, Any]) -> str:
    """One run's progress line (rich markup): outcome, variant, puzzle, the scores or the message
    (shortened at a word boundary), seconds."""
    import textwrap

    from rich.markup import escape

    from reassembly.harness.task_tables import headline

    word = outcome(row)
    scored = row["status"] == "ok" or (row["status"] == "timeout" and row.get("mse") is not None)
    detail = headline(row) if scored else ""
    if row["status"] == "timeout" and scored:
        detail = f"last reported answer: {detail}"
    if row["status"] != "ok" and row.get("error"):
        detail = "; ".join(filter(None, (detail, str(row["error"]).replace("\n", " "))))
    detail = textwrap.shorten(detail, 240, placeholder=" …") if detail else ""
    seconds = f" ({row['seconds']:.1f} s)" if row.get("seconds") is not None else ""
    return f"{OUTCOMES.get(word, escape(word))} {escape(row['variant'])} on {escape(row['puzzle'])}: {escape(detail)}{seconds}"


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """``kill`` stops the workers as Ctrl-C does."""
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def synthetic_configs(generator: dict[str, Any], seeds: int, first_seed: int, perturb: list[str]) -> list[Any]:
    """One configuration per combination of the repeatable options (block, depth) and seed."""
    from generators.config import PuzzleConfig

    blocks = generator.pop("block") or [None]
    depths = generator.pop("depth") or [None]
    return [PuzzleConfig.from_options({**generator, "block": b, "depth": d, "seed": s}, perturb)
            for b in blocks for d in depths for s in range(first_seed, first_seed + seeds)]


def apply_suite(name: str, generator: dict[str, Any], solver: list[str] | None, janestreet: Path | None) -> tuple[list[Any], list[str], Path | None, Any]:
    """The suite's configurations (seed by seed), solvers and Jane Street puzzle; no generator option may be given too."""
    from generators.config import PuzzleConfig
    from reassembly.harness.suites import get_suite
    from reassembly.janestreet import find_janestreet

    suite = get_suite(name)
    given = [k for k, v in generator.items() if v not in (None, [])]
    if given:
        raise ConfigError(f"--suite {name} fixes its puzzles; drop --{given[0].replace('_', '-')}")
    configs = [PuzzleConfig.from_options({**options, "seed": s}) for options in suite.puzzles for s in suite.seeds]
    if suite.janestreet and janestreet is None:
        janestreet = find_janestreet()
    return configs, list(solver or suite.solvers), janestreet, suite


@with_generator_options(repeatable=("block", "depth"), exclude=("seed",))
def bench(
    generator: dict[str, Any],
    suite: Annotated[Optional[str], typer.Option("--suite", help="Run a named suite (its puzzles, pins and solvers; see 'reassembly suites').")] = None,
    seeds: Annotated[int, typer.Option("--seeds", help="Synthetic puzzles per configuration (seeds FIRST..FIRST+N-1); 0 for none.")] = 3,
    first_seed: Annotated[int, typer.Option("--first-seed", help="First generator seed (tune on seeds >= 100, report on 0-2).")] = 0,
    solver: Annotated[Optional[list[str]], typer.Option("--solver", "-s", help="Solver variant NAME or NAME[opt=value] "
                      "(a list value is a grid: NAME[opt=[1,2]]); repeatable; every registered solver when not given.")] = None,
    solver_option: Annotated[Optional[list[str]], typer.Option("--solver-option", "-o", help="NAME=VALUE for every selected solver that has the option (repeatable).")] = None,
    perturb: Annotated[Optional[list[str]], typer.Option("--perturb", help="Change after training (repeatable), as for 'reassembly generate'.")] = None,
    janestreet: Annotated[Optional[Path], typer.Option("--janestreet", help="Also run the real Jane Street puzzle in DIR (scored by its published SHA-256).")] = None,
    puzzle: Annotated[Optional[list[Path]], typer.Option("--puzzle", help="Also run this puzzle directory (scored by its answer.json where present; repeatable).")] = None,
    timeout: Annotated[Optional[float], typer.Option(help="Seconds each solve may take before it is stopped and recorded as a timeout (default 600, or the suite's).")] = None,
    jobs: Annotated[Optional[int], typer.Option("--jobs", "-j", help="Solves at a time (one process each); default: the cores not already busy. 1 for the cleanest timings.")] = None,
    threads: Annotated[Optional[int], typer.Option(help="Torch threads per solve; default: free cores / jobs.")] = None,
    out: Annotated[Path, typer.Option("--out", help="Directory for puzzles/, answers/ and results.csv / results.jsonl.")] = DEFAULT_OUT,
    cache_dir: Annotated[Optional[Path], typer.Option(help="Trained-model cache; default $REASSEMBLY_CACHE or the user cache folder.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Redo runs already in the results (their rows are replaced).")] = False,
    retry_failed: Annotated[bool, typer.Option("--retry-failed", help="Redo runs whose stored status is error or timeout.")] = False,
    imports: Annotated[Optional[list[str]], typer.Option("--imports", help=IMPORTS_HELP)] = None,
    scheduler: Annotated[Optional[str], typer.Option(help="Run on Dask: 'local' (a local cluster) or a scheduler address tcp://HOST:PORT (needs the dask extra).")] = None,
    task: Annotated[str, typer.Option("--task", help="Task family: reassembly (layer reassembly), resync (neuron re-synchronisation), "
                    "query (query-only reassembly) or blackbox (black-box parameter reconstruction).")] = "reassembly",
    task_option: Annotated[Optional[list[str]], typer.Option("--task-option", "-t", help="NAME=VALUE for the task's problem generator, "
                           "e.g. budget=2000 (query, blackbox); repeatable.")] = None,
) -> None:
    """Run solver variants on generated puzzles (and optionally real ones); one results row per run."""
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from reassembly.harness import plan as planning
    from reassembly.harness.applicability import applicable, left_out_line
    from reassembly.harness.bench import default_jobs, execute
    from reassembly.harness.plugins import import_plugins
    from reassembly.harness.puzzles import check_out
    from reassembly.harness.results import ResultStore
    from reassembly.harness.runner import RunOptions

    for name, value, low in (("--seeds", seeds, 0), ("--first-seed", first_seed, 0), ("--jobs", 1 if jobs is None else jobs, 1),
                             ("--threads", 1 if threads is None else threads, 1)):
        if value < low:
            raise ConfigError(f"{name} must be >= {low}, got {value}")
    chosen = None
    if suite is not None:
        if task != "reassembly":
            raise ConfigError(f"--suite runs layer reassembly; it cannot be combined with --task {task}")
        configs, solver, janestreet, chosen = apply_suite(suite, generator, solver, janestreet)
    else:
        configs = synthetic_configs(dict(generator), seeds, first_seed, perturb or []) if seeds else []
    timeout = timeout if timeout is not None else (chosen.timeout if chosen else 600.0)
    if not timeout > 0:
        raise ConfigError(f"--timeout must be a positive number of seconds, got {timeout}")
    from reassembly.tasks import get_task

    get_task(task)
    con = console()
    resolved = import_plugins(imports or [])
    solvers = planning.resolve_solvers(solver, parse_options(solver_option), task)
    if not solver:
        from reassembly.registry import broken

        for message in broken(task).values():
            con.print(f"[red]broken plugin, left out:[/] {escape(message)}", soft_wrap=True, highlight=False)
    check_out(out)
    puzzles = []
    if janestreet is not None:
        if task != "reassembly":
            raise ConfigError(f"--janestreet is a layer-reassembly puzzle; it does not go with --task {task}")
        puzzles.append(planning.janestreet_entry(janestreet, out))
    puzzles += [planning.directory_entry(p, out, task) for p in puzzle or []]
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        TextColumn("eta"), TimeRemainingColumn(), console=con, transient=False)
    if configs:
        with progress:
            bar = progress.add_task("generating puzzles", total=len(configs))
            puzzles = planning.synthetic_puzzles(
                configs, out, cache_dir,
                lambda k, n, label: progress.update(bar, completed=k, description=f"generating {k + 1}/{n}: {label}"),
                task, parse_options(task_option)) + puzzles
            progress.update(bar, completed=len(configs), description="puzzles ready")
    if not puzzles:
        raise ConfigError("nothing to run: --seeds is 0 and no --janestreet or --puzzle was given")
    if chosen is not None:
        puzzles = pin(con, chosen, puzzles)

    runs, left = applicable(planning.plan_runs(puzzles, solvers))
    if left:
        con.print(escape(left_out_line(left) or ""), soft_wrap=True, highlight=False)
    store = ResultStore(out)
    stored = store.statuses()
    redo = {r.key for r in runs if r.key in stored and (force or (retry_failed and stored[r.key] in ("error", "timeout")))}
    store.remove(redo)
    todo = [r for r in runs if r.key not in stored or r.key in redo]
    skipped = len(runs) - len(todo)
    con.print(f"[bold]Runs:[/] {len(runs)} ({len(puzzles)} puzzles × {len(solvers)} solver variants"
              + (f", {len(left)} left out)" if left else ")")
              + (f", {skipped} already in {store.jsonl} (--force redoes them, --retry-failed redoes failed ones)" if skipped else ""))
    jobs = jobs or default_jobs()
    options = RunOptions(timeout=timeout, imports=resolved, threads=threads or max(1, default_jobs() // jobs))
    with progress:
        bar = progress.add_task(f"solving ({jobs} at a time)", total=len(todo))

        def on_done(finished: Any) -> None:
            progress.console.print(progress_line(finished.row), markup=True, highlight=False)
            progress.advance(bar)

        try:
            with sigterm_as_interrupt():
                execute(todo, store, options, jobs, scheduler, on_done)
        except KeyboardInterrupt:
            progress.stop()
            con.print(f"[yellow]Interrupted[/]: {int(progress.tasks[-1].completed)} runs saved in {store.jsonl}; "
                      "the same command resumes from there.")
            raise typer.Exit(130) from None
    store.rebuild_csv()  # from the record, even where every run was stored already (a torn or deleted CSV is repaired)
    keys = {r.key for r in runs}
    show(con, [r for r in store.rows() if r["key"] in keys], f"Exact recovery by solver ({len(keys)} runs)")
    con.print(f"Results: {store.csv} and {store.jsonl}; 'reassembly report {out}' shows them again.")


def pin(con: Any, suite: Any, puzzles: list[Any]) -> list[Any]:
    """Puzzles marked with whether they match the suite's pins; a warning names those that do not."""
    import dataclasses

    from reassembly.harness.suites import check_pins

    differs = set(check_pins(suite, {p.id: p.content for p in puzzles}))
    if differs:
        con.print(f"[yellow]warning:[/] {len(differs)} puzzle(s) differ from the ones suite {suite.name!r} pins "
                  f"(generation is not bit-stable across machines; compare results only on equal content): "
                  + ", ".join(sorted(differs)[:5]), markup=True, highlight=False)
    return [dataclasses.replace(p, pinned=(p.id not in differs) if p.id in suite.pins else None) for p in puzzles]


def show(con: Any, rows: list[dict[str, Any]] | Any, title: str) -> None:
    import pandas as pd

    from reassembly.harness.summary import failed_runs_table, summarize
    from reassembly.harness.task_tables import tables

    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
    for table in tables(summarize(df), title, con.width):
        con.print(table)
    failed = failed_runs_table(df, con.width)
    if failed is not None:
        con.print(failed)


def report(
    directory: Annotated[Path, typer.Argument(help="A bench output directory (with results.jsonl or results.csv).")] = DEFAULT_OUT,
    plot: Annotated[Optional[Path], typer.Option("--plot", help="Also write PNGs, one set per task: the runs overview (PATH, or PATH-TASK with several tasks) and profiles (…-profiles.png).")] = None,
    html: Annotated[Optional[Path], typer.Option("--html", help="Also write one self-contained HTML page of tables and plots.")] = None,
    parquet: Annotated[Optional[Path], typer.Option("--parquet", help="Also export the rows as a parquet file (needs the parquet extra: pyarrow).")] = None,
) -> None:
    """Summarise saved bench results: the table again, failed runs, and optionally plots, HTML and parquet."""
    from reassembly.harness.results import load_results

    for flag, target in (("--plot", plot), ("--html", html), ("--parquet", parquet)):
        if target is not None:
            output_file(target, flag)
    if parquet is not None:
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ConfigError("--parquet needs pyarrow: pip install -e '.[parquet]'") from None
    df = load_results(directory)
    con = console()
    show(con, df, f"Exact recovery by solver ({len(df)} runs in {directory})")
    if plot is not None:
        from reassembly.harness.plots import plot as draw

        con.print("Plots (one set per task): " + ", ".join(str(p) for p in draw(df, plot)), soft_wrap=True, highlight=False)
    if html is not None:
        from reassembly.harness.html import write

        con.print(f"HTML: {write(df, html, f'reassembly results: {directory}')}")
    if parquet is not None:
        df.to_parquet(parquet)
        con.print(f"Parquet: {parquet}")
