"""``reassembly suites`` and ``reassembly cache``."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from reassembly.cli.common import console


def suites() -> None:
    """List the named benchmark suites ('reassembly bench --suite NAME' runs one)."""
    from rich.markup import escape
    from rich.table import Table

    from reassembly.harness.suites import suites as registered

    table = Table("suite", "puzzles", "solvers", "pinned", "what", title="Suites", title_justify="left")
    for s in registered().values():
        n = len(s.puzzles) * len(s.seeds) + (1 if s.janestreet else 0)
        table.add_row(s.name, str(n), escape(", ".join(s.solvers)), str(len(s.pins)), escape(s.description))
    console().print(table)


def cache(
    action: Annotated[str, typer.Argument(help="list (entries and sizes), size (the total) or clear (delete every entry).")] = "list",
    cache_dir: Annotated[Optional[Path], typer.Option(help="The cache (default: $REASSEMBLY_CACHE or the user cache folder).")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Clear without asking.")] = False,
) -> None:
    """Show or clear the trained-model cache (the only thing cached: puzzles are rebuilt from it in seconds)."""
    from rich.table import Table

    from generators.cache import ModelCache
    from reassembly.errors import ConfigError

    store = ModelCache(cache_dir)
    entries = sorted(store.dir.glob("*.json")) if store.dir.is_dir() else []
    files = [f for e in entries for f in (e, e.with_suffix(".pt")) if f.is_file()]
    total = sum(f.stat().st_size for f in files)
    if action == "size":
        typer.echo(f"{len(entries)} trained models, {total / 1e6:.1f} MB in {store.dir}")
    elif action == "list":
        table = Table("family", "depth", "width", "hidden", "seed", "recipe", "MB", title=f"Trained models in {store.dir}",
                      title_justify="left")
        for e in entries:
            try:
                c = json.loads(e.read_text()).get("config", {})
            except (OSError, ValueError):
                c = {}
            size = sum(f.stat().st_size for f in (e, e.with_suffix(".pt")) if f.is_file())
            recipe = f"{c.get('recipe_optimizer', '?')} lr {c.get('recipe_lr', '?')} {c.get('recipe_epochs', '?')} ep"
            table.add_row(str(c.get("block", "relu")), str(c.get("depth", "?")), str(c.get("width", "?")), str(c.get("hidden", "?")),
                          str(c.get("seed", "?")), recipe, f"{size / 1e6:.2f}")
        console().print(table)
        typer.echo(f"{len(entries)} trained models, {total / 1e6:.1f} MB")
    elif action == "clear":
        if not entries:
            typer.echo(f"nothing to clear in {store.dir}")
            return
        if not yes and not typer.confirm(f"delete {len(entries)} trained models ({total / 1e6:.1f} MB) in {store.dir}?"):
            raise typer.Exit(1)
        for f in files:
            f.unlink(missing_ok=True)
        typer.echo(f"deleted {len(entries)} trained models ({total / 1e6:.1f} MB)")
    else:
        raise ConfigError(f"unknown cache action {action!r}; choose list, size or clear")
