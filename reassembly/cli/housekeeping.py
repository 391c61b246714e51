"""``reassembly suites`` and ``reassembly cache``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from reassembly.cli.common import console


def suites() -> None:
    """List the named benchmark suites ('reassembly bench --suite NAME' runs one)."""
    from rich.markup import escape
    from rich.table import Table

    from reassembly.harness.suites import suites as registered

    table = Table("suite", "puzzles", "solvers", "pinned", "what", title="Suites", title_justify="left")
    for s in registered().values():
        n = (len(s.puzzles) + len(s.real)) * len(s.seeds) + (1 if s.janestreet else 0)
        table.add_row(s.name, str(n), escape(", ".join(s.solvers)), str(len(s.pins)), escape(s.description))
    console().print(table)


def cache(
    action: Annotated[
        str,
        typer.Argument(
            help="list (entries and sizes), size (the total) or clear (delete what the cache wrote; anything else there is left alone)."
        ),
    ] = "list",
    cache_dir: Annotated[
        Path | None, typer.Option(help="The cache (default: $REASSEMBLY_CACHE or the user cache folder).")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Clear without asking.")] = False,
) -> None:
    """Show or clear the cache: trained models, fetched real-network weights and anything else in its folder."""
    from rich.markup import escape
    from rich.table import Table

    from generators.cache import default_cache_dir
    from generators.cache_contents import KINDS, clear, holdings, summary
    from reassembly.errors import ConfigError

    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    items = holdings(root)
    if action == "size":
        typer.echo(f"{summary(items)} in {root}")
    elif action == "list":
        models = Table(
            "family",
            "depth",
            "width",
            "hidden",
            "seed",
            "recipe",
            "MB",
            title=f"Trained models in {root / 'models'}",
            title_justify="left",
        )
        others = Table("kind", "name", "MB", title=f"Other holdings in {root}", title_justify="left")
        for item in items:
            if item.kind != KINDS[0]:
                others.add_row(item.kind, escape(item.name), f"{item.size / 1e6:.2f}")
                continue
            try:
                c = json.loads(item.paths[0].read_text()).get("config", {})
            except (OSError, ValueError):
                c = {}
            recipe = f"{c.get('recipe_optimizer', '?')} lr {c.get('recipe_lr', '?')} {c.get('recipe_epochs', '?')} ep"
            models.add_row(
                str(c.get("block", "relu")),
                str(c.get("depth", "?")),
                str(c.get("width", "?")),
                str(c.get("hidden", "?")),
                str(c.get("seed", "?")),
                recipe,
                f"{item.size / 1e6:.2f}",
            )
        console().print(models)
        if others.row_count:
            console().print(others)
        typer.echo(summary(items))
    elif action == "clear":
        if not items:
            typer.echo(f"nothing to clear in {root}")
            return
        if not yes and not typer.confirm(f"delete {summary(items)} in {root}?"):
            raise typer.Exit(1)
        kept = clear(items)
        typer.echo(f"deleted {summary([i for i in items if i not in kept])}")
        if kept:
            typer.echo(f"left alone (not written by the cache): {', '.join(i.name for i in kept)}")
    else:
        raise ConfigError(f"unknown cache action {action!r}; choose list, size or clear")
