"""``reassembly suites`` and ``reassembly cache``."""
from __future__ import annotations

import json
import re
import stat
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


_KEY = re.compile(r"^[0-9a-f]{64}\.json$")


def _regular(path: Path) -> bool:
    """A regular file itself (not a symlink, FIFO or folder: those are not the cache's)."""
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def cache_entries(folder: Path) -> list[Path]:
    """The cache's own entries: ``<sha256 key>.json`` regular files (anything else there is left alone)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if _KEY.match(p.name) and _regular(p))


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
    entries = cache_entries(store.dir)
    files = [f for e in entries for f in (e, e.with_suffix(".pt")) if _regular(f)]
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
            size = sum(f.stat().st_size for f in (e, e.with_suffix(".pt")) if _regular(f))
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
