"""``reassembly bench`` and ``reassembly report``: typer command functions (registered in
:mod:`reassembly.cli`). Heavy imports happen inside the commands."""
from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from reassembly.errors import ConfigError

DEFAULT_OUT = Path("bench-results")


def wide_console() -> "Console":  # noqa: F821
    """A rich console; when output is not a terminal, wide enough that tables do not wrap."""
    import sys

    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=140)
RECIPE_PANEL = "Training recipe (synthetic puzzles)"


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
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


def _synthetic_configs(depths: list[int], width: int, hidden: int, seeds: int, recipe: dict[str, Any], perturb: list[str]) -> list[Any]:
    try:
        from generators import PuzzleConfig, TrainingRecipe, parse_perturbation
    except ImportError as exc:
        raise ConfigError(f"synthetic puzzles need the generators package, which cannot be imported ({exc})") from exc
    training = TrainingRecipe(**{k: v for k, v in recipe.items() if v is not None})
    perturbations = tuple(parse_perturbation(p) for p in perturb)
    return [
        PuzzleConfig(depth=d, width=width, hidden=hidden, seed=k, recipe=training, perturbations=perturbations)
        for d in depths for k in range(seeds)
    ]


def bench(
    depth: Annotated[Optional[list[int]], typer.Option("--depth", "-d", help="Blocks of each synthetic puzzle (repeatable); 48 when not given.")] = None,
    width: Annotated[int, typer.Option(help="Residual width of the synthetic puzzles.")] = 48,
    hidden: Annotated[int, typer.Option(help="Hidden size of each block.")] = 96,
    seeds: Annotated[int, typer.Option("--seeds", help="Synthetic puzzles per depth (seeds 0..N-1); 0 for none.")] = 3,
    solver: Annotated[Optional[list[str]], typer.Option("--solver", "-s", help="Solver to run (repeatable); every registered solver when not given.")] = None,
    solver_option: Annotated[Optional[list[str]], typer.Option("--solver-option", "-o", help="NAME=VALUE passed to every solver (repeatable).")] = None,
    optimizer: Annotated[Optional[str], typer.Option(help="adam, adamw or sgd.", rich_help_panel=RECIPE_PANEL)] = None,
    lr: Annotated[Optional[float], typer.Option(help="Learning rate.", rich_help_panel=RECIPE_PANEL)] = None,
    epochs: Annotated[Optional[int], typer.Option(help="Training epochs.", rich_help_panel=RECIPE_PANEL)] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Batch size.", rich_help_panel=RECIPE_PANEL)] = None,
    weight_decay: Annotated[Optional[float], typer.Option(help="Weight decay.", rich_help_panel=RECIPE_PANEL)] = None,
    perturb: Annotated[Optional[list[str]], typer.Option("--perturb", help="Post-training change: noise=0.01, quantize=8, prune=0.5, finetune=100 or reparam (repeatable).", rich_help_panel=RECIPE_PANEL)] = None,
    janestreet: Annotated[Optional[Path], typer.Option("--janestreet", help="Also run the real Jane Street puzzle in DIR (scored by its published SHA-256).")] = None,
    puzzle: Annotated[Optional[list[Path]], typer.Option("--puzzle", help="Also run this puzzle directory (scored by its answer.json where present; repeatable).")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds each solve may take before it is stopped and recorded as a timeout.")] = 600.0,
    jobs: Annotated[Optional[int], typer.Option("--jobs", "-j", help="Solves run in parallel (one process each); one per CPU core when not given. Use 1 for the cleanest timings.")] = None,
    threads: Annotated[Optional[int], typer.Option(help="Torch threads per solve; CPU cores / jobs when not given.")] = None,
    out: Annotated[Path, typer.Option("--out", help="Directory for puzzles/ and results.csv / results.jsonl.")] = DEFAULT_OUT,
    cache_dir: Annotated[Optional[Path], typer.Option(help="Trained-model cache; $REASSEMBLY_CACHE or the user cache directory when not given.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Redo runs already in the results (they are resumed otherwise).")] = False,
    imports: Annotated[Optional[list[str]], typer.Option("--imports", help="Module or .py file imported first, here and in every worker, e.g. to register solvers (repeatable).")] = None,
) -> None:
    """Run every solver on generated puzzles (and optionally the real one); one results row per run."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from reassembly.cli import parse_options
    from reassembly.harness import plan as planning
    from reassembly.harness.environment import environment
    from reassembly.harness.plugins import import_plugins
    from reassembly.harness.report import summarize, summary_table
    from reassembly.harness.results import ResultStore, make_row
    from reassembly.harness.runner import RunOptions, run_many

    depths = depth or [48]
    for name, value, low in (("--seeds", seeds, 0), ("--jobs", 1 if jobs is None else jobs, 1), ("--threads", threads or 1, 1)):
        if value < low:
            raise ConfigError(f"{name} must be >= {low}, got {value}")
    if not timeout > 0:
        raise ConfigError(f"--timeout must be a positive number of seconds, got {timeout}")
    console = wide_console()

    import_plugins(imports or [])
    solvers = planning.resolve_solvers(solver, parse_options(solver_option))
    recipe = {"optimizer": optimizer, "lr": lr, "epochs": epochs, "batch_size": batch_size, "weight_decay": weight_decay}
    configs = _synthetic_configs(depths, width, hidden, seeds, recipe, perturb or []) if seeds else []
    puzzles = []
    if janestreet is not None:
        puzzles.append(planning.janestreet_entry(janestreet))
    puzzles += [planning.directory_entry(p) for p in puzzle or []]
    if configs:
        console.print(f"[bold]Puzzles:[/] {len(configs)} synthetic under {out / planning.PUZZLES_DIR} (trained models from the cache where present)")
        puzzles = planning.synthetic_puzzles(configs, out, cache_dir) + puzzles
    if not puzzles:
        raise ConfigError("nothing to run: --seeds is 0 and no --janestreet or --puzzle was given")

    runs = planning.plan_runs(puzzles, solvers)
    store = ResultStore(out)
    done = set() if force else store.done()
    todo = [r for r in runs if r.key not in done]
    skipped = len(runs) - len(todo)
    console.print(f"[bold]Runs:[/] {len(runs)} ({len(puzzles)} puzzles × {len(solvers)} solvers)"
                  + (f", {skipped} already in {store.jsonl} (use --force to redo)" if skipped else ""))

    jobs = jobs or os.cpu_count() or 1
    options = RunOptions(timeout=timeout, imports=tuple(imports or []),
                         threads=threads or max(1, (os.cpu_count() or 1) // jobs))
    env = environment()
    marks = {"ok": "[green]✓[/]", "timeout": "[yellow]⏱[/]", "error": "[red]✗[/]"}
    with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=False) as progress:
        task = progress.add_task("solving", total=len(todo))

        def on_done(run: planning.Run, outcome: Any) -> None:
            row = make_row(run, outcome, timeout, env)
            store.append(row)
            detail = ("exact" if row["exact"] else f"mse {row['mse']:.2e}") if outcome.status == "ok" else outcome.error
            seconds = f"{row['seconds']:.1f} s" if row["seconds"] is not None else ""
            progress.console.print(f"{marks[outcome.status]} {run.solver.name} on {run.puzzle.id}: {detail} {seconds}",
                                   highlight=False, markup=True)
            progress.advance(task)

        try:
            with _sigterm_as_interrupt():  # so `kill` stops the workers too, as Ctrl-C does
                run_many(todo, options, jobs=jobs, on_done=on_done)
        except KeyboardInterrupt:
            progress.stop()
            console.print(f"[yellow]Interrupted[/]: {int(progress.tasks[0].completed)} runs saved in {store.jsonl}; "
                          "the same command resumes from there.")
            raise typer.Exit(130) from None

    import pandas as pd

    keys = {r.key for r in runs}
    df = pd.DataFrame([r for r in store.rows() if r["key"] in keys])
    console.print(summary_table(summarize(df)))
    console.print(f"Results: {store.csv} and {store.jsonl}; `reassembly report {out}` shows them again.")


def report(
    directory: Annotated[Path, typer.Argument(help="A bench output directory (with results.jsonl or results.csv).")] = DEFAULT_OUT,
    plot: Annotated[Optional[Path], typer.Option("--plot", help="Also write a PNG of exact recovery and runtime per solver.")] = None,
) -> None:
    """Summarise saved bench results: the table again, and optionally a plot."""
    from reassembly.harness.report import plot as plot_results
    from reassembly.harness.report import summarize, summary_table
    from reassembly.harness.results import load_results

    df = load_results(directory)
    console = wide_console()
    console.print(summary_table(summarize(df), title=f"Exact recovery by solver ({len(df)} runs in {directory})"))
    if plot is not None:
        console.print(f"Plot: {plot_results(df, plot)}")
