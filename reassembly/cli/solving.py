"""``reassembly solve``, ``verify`` and ``solvers``."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from reassembly.cli.common import console, fail, parse_options, set_threads, strict_json

SOLVER_HELP = "Solver: NAME or NAME[option=value, ...] (see 'reassembly solvers --load')."
IMPORTS_HELP = "Module (from the current folder) or .py file to import first, e.g. to register a solver (repeatable)."


@contextlib.contextmanager
def solver_output_to_stderr() -> Iterator[None]:
    """Send whatever a solver prints (Python's ``sys.stdout`` and file descriptor 1) to stderr, so
    stdout carries only the answer (``solve --json`` stays one JSON object)."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:
        saved = None
    try:
        if saved is not None:
            os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stderr.flush()
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)


def solve(
    directory: Annotated[Path, typer.Argument(help="Puzzle directory (pieces/ and historical_data.csv).")],
    solver: Annotated[
        str | None,
        typer.Option(
            "--solver",
            "-s",
            help=SOLVER_HELP + " Default: the one the puzzle's "
            "block family recommends (fast; transformer for real transformer layers).",
        ),
    ] = None,
    option: Annotated[
        list[str] | None, typer.Option("--option", "-o", help="Solver option NAME=VALUE (repeatable).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of the answer line.")] = False,
    threads: Annotated[int | None, typer.Option(help="Torch threads (default: the cores not already busy).")] = None,
    imports: Annotated[list[str] | None, typer.Option("--imports", help=IMPORTS_HELP)] = None,
) -> None:
    """Solve a puzzle and print its answer: piece ids block by block in slot order, then the head."""
    from reassembly.answer import validate
    from reassembly.errors import PermutationError
    from reassembly.harness.plugins import import_plugins
    from reassembly.harness.variants import expand, parse_spec
    from reassembly.loader import load_puzzle
    from reassembly.params import Configurable
    from reassembly.registry import get_spec
    from reassembly.scoring import score
    from reassembly.solver import SolveResult

    import_plugins(imports or [])
    set_threads(threads)
    puzzle = load_puzzle(directory)
    solver = solver or puzzle.family.solver
    name, options = parse_spec(solver)
    options.update(parse_options(option))
    spec = get_spec(name)
    if len(expand(name, options, spec.tuple_options())) > 1:
        fail(f"solver {solver!r} is a grid of several variants; 'reassembly bench' runs grids, 'solve' runs one")
    with solver_output_to_stderr():
        try:
            instance = spec.make(**options)
            t0 = time.perf_counter()
            result = instance.solve(puzzle)
            seconds = time.perf_counter() - t0
        except (KeyboardInterrupt, typer.Exit):
            raise
        except BaseException as exc:  # a plugin's exception or sys.exit(): one line, exit 2
            from reassembly.errors import ReassemblyError

            if isinstance(exc, ReassemblyError) and not isinstance(exc, SystemExit):
                raise
            what = (
                f"exited with status {exc.code!r}"
                if isinstance(exc, SystemExit)
                else f"raised {type(exc).__name__}: {exc}"
            )
            fail(f"solver {name!r} {what}")
    if not isinstance(result, SolveResult):
        fail(f"solver {name!r} returned a {type(result).__name__}, not a SolveResult")
    try:
        validate(result.assembly, puzzle.layout)
    except PermutationError as exc:
        fail(f"solver {name!r} returned an invalid answer: {exc}")
    from reassembly.identifiability import of_puzzle

    ident = of_puzzle(puzzle)
    if ident is not None and not ident.identifiable:
        result.certificate = {**(result.certificate or {}), **ident.as_dict(), "note": ident.note()}
        console(stderr=True).print(f"[yellow]warning:[/] {ident.note()}", markup=True, highlight=False)
    if not as_json:
        typer.echo(result.assembly.text())
        return
    s = score(puzzle, result.assembly)
    params = instance.flat_params() if isinstance(instance, Configurable) else instance.get_params()
    typer.echo(
        strict_json(
            {"solver": name, "params": params, "sha256": s.sha256, "mse": s.mse, "seconds": seconds, **result.to_json()}
        )
    )


def verify(
    directory: Annotated[Path, typer.Argument(help="Puzzle directory.")],
    answer: Annotated[str, typer.Argument(help="Comma-joined piece ids, e.g. 43,34,...,85.")],
) -> None:
    """Print an answer's MSE and SHA-256, and whether it matches the known answer.

    The known answer is the puzzle's answer.json where there is one, else the published Jane
    Street hash. Exit status 1 where a known answer is not matched.
    """
    from reassembly.answer import Assembly, load_answer
    from reassembly.janestreet import JANESTREET_SHA256, is_janestreet, janestreet_answer
    from reassembly.loader import load_puzzle
    from reassembly.scoring import score

    puzzle = load_puzzle(directory)
    assembly = Assembly.parse(answer, puzzle.layout)
    known = load_answer(Path(directory))
    source = "answer.json"
    if known is None and (assembly.sha256() == JANESTREET_SHA256 or is_janestreet(Path(directory), puzzle)):
        known, source = janestreet_answer(), "the published Jane Street SHA-256"
    s = score(puzzle, assembly, known)
    typer.echo(f"mse {s.mse:.6e}")
    typer.echo(f"sha256 {s.sha256}")
    if known is None:
        typer.echo("no known answer to compare with (no answer.json; not the Jane Street hash)")
    elif s.exact:
        typer.echo(f"matches {source}")
    else:
        detail = (
            ""
            if s.kendall_tau != s.kendall_tau
            else f" (grouping {s.grouping_accuracy:.0%}, Kendall τ {s.kendall_tau:.3f})"
        )
        typer.echo(f"does not match {source}{detail}")
        raise typer.Exit(1)


def solvers(
    load: Annotated[
        bool, typer.Option("--load", help="Import each solver and list its options with their help.")
    ] = False,
    imports: Annotated[list[str] | None, typer.Option("--imports", help=IMPORTS_HELP)] = None,
) -> None:
    """List the registered solvers (built-in and plugins)."""
    from rich.markup import escape
    from rich.table import Table

    from reassembly.errors import SolverError
    from reassembly.harness.plugins import import_plugins
    from reassembly.params import Configurable
    from reassembly.registry import broken, specs

    import_plugins(imports or [])
    out = console()
    table = Table(
        "solver", "task", "source", "entry point", *(["about"] if load else []), title="Solvers", title_justify="left"
    )
    options: list[tuple[str, str, str, str]] = []
    failing = broken()
    for name, spec in specs().items():
        row = [name, spec.task, spec.source, str(spec.entry_point)]
        if name in failing and not load:
            table.add_row(
                escape(name), spec.task, f"[red]{escape(spec.source)}: broken[/]", escape(str(spec.entry_point))
            )
            continue
        if load:
            try:
                factory = spec.load()
                instance = spec.make()
            except SolverError as exc:
                table.add_row(name, spec.task, spec.source, str(spec.entry_point), f"[red]{escape(str(exc))}[/]")
                continue
            row.append(((factory.__doc__ or "").strip().splitlines() or [""])[0])
            helps = factory.param_help() if isinstance(factory, type) and issubclass(factory, Configurable) else {}
            for key, value in (
                instance.get_params(deep=False).items()
                if isinstance(instance, Configurable)
                else instance.get_params().items()
            ):
                options.append(
                    (
                        name,
                        key,
                        repr(value) if not isinstance(value, Configurable) else type(value).__name__ + "(...)",
                        helps.get(key, ""),
                    )
                )
        table.add_row(*(escape(c) for c in row))
    out.print(table)
    for message in failing.values():
        out.print(f"[red]broken plugin[/] {escape(message)}", soft_wrap=True, highlight=False)
    if load:
        opts = Table(
            "solver",
            "option",
            "default",
            "help",
            title="Options (set with -o NAME=VALUE or NAME[option=value]; parts' options as part__option)",
            title_justify="left",
        )
        for row in options:
            opts.add_row(*(escape(c) for c in row))
        out.print(opts)
