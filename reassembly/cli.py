"""The ``reassembly`` command line (typer). Heavy imports happen inside commands."""
from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer
from rich.console import Console
from rich.table import Table

from reassembly.errors import ReassemblyError

app = typer.Typer(
    name="reassembly",
    help="Benchmark algorithms that put a dropped residual network back together.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)

DEFAULT_SOLVER = "fast"


def friendly(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a :class:`ReassemblyError` into a one-line message and exit status 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ReassemblyError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper


def parse_options(pairs: list[str] | None) -> dict[str, Any]:
    """``["rows=500", "seed=wout-norm"]`` → ``{"rows": 500, "seed": "wout-norm"}`` (JSON values where they parse)."""
    from reassembly.errors import SolverError

    out: dict[str, Any] = {}
    for item in pairs or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SolverError(f"solver option {item!r} must look like NAME=VALUE")
        try:
            out[key.replace("-", "_")] = json.loads(value)
        except json.JSONDecodeError:
            out[key.replace("-", "_")] = value
    return out


@app.command()
@friendly
def solve(
    directory: Annotated[Path, typer.Argument(help="Puzzle directory (pieces/piece_N.pth + historical_data.csv).")],
    solver: Annotated[str, typer.Option("--solver", "-s", help="Registered solver name (see `reassembly solvers`).")] = DEFAULT_SOLVER,
    option: Annotated[Optional[list[str]], typer.Option("--option", "-o", help="Solver option NAME=VALUE (repeatable).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of the permutation line.")] = False,
) -> None:
    """Solve a puzzle and print the permutation ``inp_1,out_1,...,inp_D,out_D,last``."""
    from reassembly.loader import load_puzzle
    from reassembly.permutation import format_permutation
    from reassembly.registry import get_solver
    from reassembly.scoring import score

    puzzle = load_puzzle(directory)
    instance = get_solver(solver, **parse_options(option))
    result = instance.solve(puzzle)
    if not as_json:
        typer.echo(format_permutation(result.permutation))
        return
    s = score(puzzle, result.permutation)
    payload = {"solver": solver, "params": instance.get_params(),
               "sha256": s.sha256, "mse": s.mse, **result.to_json()}
    typer.echo(json.dumps(payload, default=str))


@app.command()
@friendly
def verify(
    directory: Annotated[Path, typer.Argument(help="Puzzle directory.")],
    permutation: Annotated[str, typer.Argument(help="Comma-joined piece ids, e.g. 43,34,...,85.")],
) -> None:
    """Print the MSE (float64, against ``pred``) and SHA-256 of a permutation."""
    from reassembly.loader import load_puzzle
    from reassembly.permutation import parse_permutation
    from reassembly.scoring import score

    puzzle = load_puzzle(directory)
    s = score(puzzle, parse_permutation(permutation))
    typer.echo(f"mse {s.mse:.6e}")
    typer.echo(f"sha256 {s.sha256}")


@app.command("solvers")
@friendly
def list_solvers_cmd(
    load: Annotated[bool, typer.Option("--load", help="Import each solver and show its options.")] = False,
) -> None:
    """List the registered solvers (built-in and plugins)."""
    from reassembly.registry import specs

    table = Table("solver", "source", "entry point", *(["options"] if load else []))
    for name, spec in specs().items():
        row = [name, spec.source, str(spec.entry_point)]
        if load:
            row.append(", ".join(f"{k}={v!r}" for k, v in spec.make().get_params().items()))
        table.add_row(*row)
    console.print(table)


def _register_commands() -> None:
    """Commands that live in their own modules (each imports its heavy dependencies lazily)."""
    from reassembly.cli_bench import bench, report
    from reassembly.cli_generate import generate

    app.command("generate")(friendly(generate))
    app.command("bench")(friendly(bench))
    app.command("report")(friendly(report))


_register_commands()


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
