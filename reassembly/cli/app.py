"""The ``reassembly`` command line (typer). Heavy imports happen inside commands."""

from __future__ import annotations

from typing import Annotated

import typer

from reassembly import __version__
from reassembly.cli.benching import bench, report
from reassembly.cli.common import friendly
from reassembly.cli.generating import fetch, generate
from reassembly.cli.housekeeping import cache, suites
from reassembly.cli.solving import solve, solvers, verify

app = typer.Typer(
    name="reassembly",
    help="Benchmark algorithms that put a dropped residual network back together.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"reassembly {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool | None, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = None,
) -> None:
    """Benchmark algorithms that put a dropped residual network back together."""


for name, command in (
    ("solve", solve),
    ("verify", verify),
    ("solvers", solvers),
    ("generate", generate),
    ("fetch", fetch),
    ("bench", bench),
    ("report", report),
    ("suites", suites),
    ("cache", cache),
):
    # an answer such as "-1,2,..." is the answer, not an unknown option
    settings = {"ignore_unknown_options": True} if name == "verify" else None
    app.command(name, context_settings=settings)(friendly(command))


def main() -> None:
    """Console-script entry point."""
    app()
