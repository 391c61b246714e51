"""``reassembly generate``: train, perturb and shuffle a synthetic puzzle."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from reassembly.cli.common import console
from reassembly.cli.generator_options import RECIPE_PANEL, with_generator_options


@with_generator_options()
def generate(
    out: Annotated[Path, typer.Option("--out", help="Directory to write the puzzle to (new or empty, or a puzzle this command wrote).")],
    generator: dict[str, Any],
    perturb: Annotated[Optional[list[str]], typer.Option("--perturb", rich_help_panel=RECIPE_PANEL,
                       help="Change after training: noise=σ, quantize=bits, prune=fraction, finetune=steps, reparam or rescale=share "
                            "(repeatable, applied in order).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the puzzle files of a directory this command did not write.")] = False,
    cache_dir: Annotated[Optional[Path], typer.Option(help="Trained-model cache (default: $REASSEMBLY_CACHE or the user cache folder).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the model cache.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Generate a synthetic dropped network with a known answer.

    Writes pieces/, historical_data.csv, puzzle.json, answer.json (for the referee and for verify)
    and generation.json (options and loss curve).
    """
    from generators.build import generate as run
    from generators.config import PuzzleConfig

    config = PuzzleConfig.from_options(generator, perturb or [])
    trained = run(config, out, cache_dir=cache_dir, progress=not quiet, use_cache=not no_cache)
    last = trained.loss_curve[-1] if trained.loss_curve else {}
    source = "from the cache" if trained.cached else f"trained in {trained.seconds:.1f} s"
    console(stderr=True).print(
        f"wrote {out} ({config.block}, {config.depth} blocks; model {source}; "
        f"train loss {last.get('train_loss', float('nan')):.4f}, validation loss {last.get('val_loss', float('nan')):.4f})")
