"""``reassembly bench`` and ``reassembly report``."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from reassembly.cli.common import console, output_file, parse_options
from reassembly.cli.generator_options import with_generator_options
from reassembly.cli.solving import IMPORTS_HELP
from reassembly.errors import ConfigError

DEFAULT_OUT = Path("bench-results")
OUTCOMES = {
    "solved": "[green]solved[/]",
    "missed": "[yellow]missed[/]",
    "answered": "[cyan]answered[/]",
    "timeout": "[yellow]timeout[/]",
    "error": "[red]error[/]",
    "unsupported": "[blue]unsupported[/]",
}


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


@with_generator_options(repeatable=("block", "depth"), exclude=("seed",))
def bench(
    generator: dict[str, Any],
    suite: Annotated[
        str | None,
        typer.Option("--suite", help="Run a named suite (its puzzles, pins and solvers; see 'reassembly suites')."),
    ] = None,
    seeds: Annotated[
        int, typer.Option("--seeds", help="Synthetic puzzles per configuration (seeds FIRST..FIRST+N-1); 0 for none.")
    ] = 3,
    first_seed: Annotated[
        int, typer.Option("--first-seed", help="First generator seed (tune on seeds >= 100, report on 0-2).")
    ] = 0,
    solver: Annotated[
        list[str] | None,
        typer.Option(
            "--solver",
            "-s",
            help="Solver variant NAME or NAME[opt=value] "
            "(a list value is a grid: NAME[opt=[1,2]]); repeatable; every registered solver when not given.",
        ),
    ] = None,
    solver_option: Annotated[
        list[str] | None,
        typer.Option(
            "--solver-option", "-o", help="NAME=VALUE for every selected solver that has the option (repeatable)."
        ),
    ] = None,
    perturb: Annotated[
        list[str] | None,
        typer.Option("--perturb", help="Change after training (repeatable), as for 'reassembly generate'."),
    ] = None,
    janestreet: Annotated[
        Path | None,
        typer.Option(
            "--janestreet", help="Also run the real Jane Street puzzle in DIR (scored by its published SHA-256)."
        ),
    ] = None,
    puzzle: Annotated[
        list[Path] | None,
        typer.Option(
            "--puzzle", help="Also run this puzzle directory (scored by its answer.json where present; repeatable)."
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            help="Seconds each solve may take before it is stopped and recorded as a timeout (default 600, or the suite's)."
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            help="Solves at a time (one process each); default: the cores not already busy. 1 for the cleanest timings.",
        ),
    ] = None,
    threads: Annotated[int | None, typer.Option(help="Torch threads per solve; default: free cores / jobs.")] = None,
    out: Annotated[
        Path, typer.Option("--out", help="Directory for puzzles/, answers/ and results.csv / results.jsonl.")
    ] = DEFAULT_OUT,
    cache_dir: Annotated[
        Path | None, typer.Option(help="Trained-model cache; default $REASSEMBLY_CACHE or the user cache folder.")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Redo runs already in the results (their rows are replaced).")
    ] = False,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Redo runs whose stored status is error or timeout.")
    ] = False,
    imports: Annotated[list[str] | None, typer.Option("--imports", help=IMPORTS_HELP)] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="Run on Dask: 'local' (a local cluster) or a scheduler address tcp://HOST:PORT (needs the dask extra)."
        ),
    ] = None,
    task: Annotated[
        str,
        typer.Option(
            "--task",
            help="Task family: reassembly (layer reassembly), resync (neuron re-synchronisation), "
            "query (query-only reassembly) or blackbox (black-box parameter reconstruction).",
        ),
    ] = "reassembly",
    task_option: Annotated[
        list[str] | None,
        typer.Option(
            "--task-option",
            "-t",
            help="NAME=VALUE for the task's problem generator, e.g. budget=2000 (query, blackbox); repeatable.",
        ),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="With --task resync: re-synchronise a real network's layers, minilm or smollm2 (needs "
            "'reassembly fetch NAME'), instead of trained ones; -t layers=K poses its first K layers.",
        ),
    ] = None,
) -> None:
    """Run solver variants on generated puzzles (and optionally real ones); one results row per run."""
    from reassembly.harness.benchmark import Benchmark

    task_options = parse_options(task_option)
    if source is not None:
        if task != "resync":
            raise ConfigError(
                f"bench --from {source} re-synchronises a real network (--task resync); for its layer-reassembly "
                "puzzles use --suite real or 'reassembly generate --from'"
            )
        task_options["source"] = source
    benchmark = Benchmark(
        solvers=solver,
        solver_options=parse_options(solver_option),
        suite=suite,
        generator=generator,
        seeds=seeds,
        first_seed=first_seed,
        perturb=perturb or [],
        puzzles=puzzle or [],
        janestreet=janestreet,
        timeout=timeout,
        jobs=jobs,
        threads=threads,
        out=out,
        cache_dir=cache_dir,
        force=force,
        retry_failed=retry_failed,
        imports=imports or [],
        scheduler=scheduler,
        task=task,
        task_options=task_options,
    )
    con = console()
    events = ConsoleEvents(con)
    try:
        with sigterm_as_interrupt():
            results = benchmark.run(events)
    except KeyboardInterrupt:
        events.progress.stop()
        con.print(
            f"[yellow]Interrupted[/]: {events.done} runs saved in {out / 'results.jsonl'}; "
            "the same command resumes from there."
        )
        raise typer.Exit(130) from None
    finally:
        events.progress.stop()
    show(con, results.rows, f"Exact recovery by solver ({len(results)} runs)")
    con.print(f"Results: {results.csv} and {results.jsonl}; 'reassembly report {out}' shows them again.")


class ConsoleEvents:
    """A bench's events on the console: warnings, a generation bar, the plan's line, a solving bar
    and one line per finished run."""

    WARNINGS = {"broken": "[red]broken plugin, left out:[/] ", "pins": "[yellow]warning:[/] ", "left-out": ""}

    def __init__(self, con: Any) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.con = con
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=con,
            transient=False,
        )
        self.bar: Any = None
        self.done = 0

    def warn(self, message: str, kind: str) -> None:
        from rich.markup import escape

        self.con.print(self.WARNINGS.get(kind, "") + escape(message), soft_wrap=True, highlight=False)

    def generating(self, done: int, total: int, label: str) -> None:
        if self.bar is None:
            self.progress.start()
            self.bar = self.progress.add_task("generating puzzles", total=total)
        if done >= total:
            self.progress.update(self.bar, completed=total, description="puzzles ready")
            self.progress.stop()
        else:
            self.progress.update(self.bar, completed=done, description=f"generating {done + 1}/{total}: {label}")

    def planned(self, plan: Any) -> None:
        left, skipped = plan.left_out, plan.skipped
        self.con.print(
            f"[bold]Runs:[/] {len(plan.runs)} ({len(plan.puzzles)} puzzles × {len(plan.solvers)} solver variants"
            + (f", {len(left)} left out)" if left else ")")
            + (
                f", {skipped} already in {plan.store.jsonl} (--force redoes them, --retry-failed redoes failed ones)"
                if skipped
                else ""
            )
        )
        self.progress.start()
        self.bar = self.progress.add_task(f"solving ({plan.jobs} at a time)", total=len(plan.todo))

    def finished(self, row: dict[str, Any]) -> None:
        self.progress.console.print(progress_line(row), markup=True, highlight=False)
        self.progress.advance(self.bar)
        self.done += 1


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
    directory: Annotated[
        Path, typer.Argument(help="A bench output directory (with results.jsonl or results.csv).")
    ] = DEFAULT_OUT,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            help="Also write PNGs, one set per task: the runs overview (PATH, or PATH-TASK with several tasks) and profiles (…-profiles.png).",
        ),
    ] = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write one self-contained HTML page of tables and plots.")
    ] = None,
    parquet: Annotated[
        Path | None,
        typer.Option("--parquet", help="Also export the rows as a parquet file (needs the parquet extra: pyarrow)."),
    ] = None,
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

        con.print(
            "Plots (one set per task): " + ", ".join(str(p) for p in draw(df, plot)), soft_wrap=True, highlight=False
        )
    if html is not None:
        from reassembly.harness.html import write

        con.print(f"HTML: {write(df, html, f'reassembly results: {directory}')}")
    if parquet is not None:
        df.to_parquet(parquet)
        con.print(f"Parquet: {parquet}")
