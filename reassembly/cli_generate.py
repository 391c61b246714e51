"""``reassembly generate``: train, perturb and shuffle a synthetic puzzle (registered by ``reassembly.cli``)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from generators.config import PuzzleConfig, TrainingRecipe

_R = TrainingRecipe.__dataclass_fields__
_C = PuzzleConfig.__dataclass_fields__


def generate(
    out: Path = typer.Option(..., "--out", help="Directory to write pieces/, historical_data.csv, answer.json."),
    depth: int = typer.Option(_C["depth"].default, help="Number of residual blocks."),
    width: int = typer.Option(_C["width"].default, help="Input (residual) dimension."),
    hidden: int = typer.Option(_C["hidden"].default, help="Hidden dimension of each block."),
    output: int = typer.Option(_C["output"].default, help="Output dimension."),
    rows: int = typer.Option(_C["rows"].default, help="Data rows (train + validation), all written to the CSV."),
    inputs: str = typer.Option(_C["inputs"].default, help="Input distribution: binary (±1 plus noise) or gaussian."),
    input_noise: float = typer.Option(_C["input_noise"].default, help="Gaussian noise σ added to binary inputs."),
    label_noise: float = typer.Option(_C["label_noise"].default, help="Gaussian noise σ added to the teacher's targets."),
    teacher_hidden: int = typer.Option(_C["teacher_hidden"].default, help="Hidden units of the random teacher."),
    teacher_sees: str = typer.Option(_C["teacher_sees"].default, help="Teacher reads the noisy observed inputs or the clean ±1 states."),
    seed: int = typer.Option(_C["seed"].default, help="Seed of data, initialisation, training and shuffling."),
    optimizer: str = typer.Option(_R["optimizer"].default, help="adam, adamw or sgd."),
    lr: float = typer.Option(_R["lr"].default, help="Learning rate."),
    epochs: int = typer.Option(_R["epochs"].default, help="Maximum training epochs."),
    batch_size: int = typer.Option(_R["batch_size"].default, help="Batch size."),
    weight_decay: float = typer.Option(_R["weight_decay"].default, help="Weight decay."),
    early_stopping: int = typer.Option(_R["early_stopping"].default or 0, help="Patience in epochs on validation loss (0: off)."),
    schedule: str = typer.Option(_R["schedule"].default, help="Learning-rate schedule: constant or cosine."),
    init: str = typer.Option(_R["init"].default, help="default (PyTorch) or zero-residual (block output projections start at 0)."),
    perturb: Optional[list[str]] = typer.Option(None, "--perturb", help="noise=σ, quantize=bits, prune=fraction, finetune=steps or reparam; repeatable, applied in order."),
    pred_from: str = typer.Option(_C["pred_from"].default, help="pred from the original or the perturbed model."),
    cache_dir: Optional[Path] = typer.Option(None, help="Trained-model cache (default $REASSEMBLY_CACHE or the user cache dir)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Neither read nor write the model cache."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Generate a synthetic dropped network with a known answer.

    Options out of range raise ConfigError (exit 2 under the app's error handler).
    """
    from generators.config import parse_perturbation

    recipe = TrainingRecipe(
        optimizer=optimizer, lr=lr, epochs=epochs, batch_size=batch_size,
        weight_decay=weight_decay, early_stopping=early_stopping or None, schedule=schedule, init=init,
    )
    config = PuzzleConfig(
        depth=depth, width=width, hidden=hidden, output=output, rows=rows, inputs=inputs,
        input_noise=input_noise, label_noise=label_noise, teacher_hidden=teacher_hidden, teacher_sees=teacher_sees,
        seed=seed, recipe=recipe, perturbations=tuple(parse_perturbation(p) for p in perturb or ()), pred_from=pred_from,
    )
    import json

    from rich.console import Console

    from generators.build import METADATA_NAME
    from generators.build import generate as run

    path = run(config, out, cache_dir=cache_dir, progress=not quiet, use_cache=not no_cache)
    meta = json.loads((path / METADATA_NAME).read_text())
    last = meta["loss_curve"][-1] if meta["loss_curve"] else {}
    source = "cache" if meta["from_cache"] else f"trained in {meta['train_seconds']:.1f} s"
    Console(stderr=True).print(
        f"wrote {path} ({2 * depth + 1} pieces; model from {source}; "
        f"train loss {last.get('train_loss', float('nan')):.4f}, val loss {last.get('val_loss', float('nan')):.4f})"
    )
