"""Regime study: when do the paper's signals exist in a trained net?

For each depth and recipe, train once and record at every epoch: pairing accuracy of DDR +
Hungarian, the Spearman correlation of ``||W_out||_F`` with depth, the mean ``tr(W_out W_in)``,
the MSE of the delta-norm seed order (true pairs) against the model, and the losses. Writes
``docs/studies/data/regimes.csv`` and ``docs/regimes.png`` (``--out``, ``--plot``)::

    python docs/studies/regimes_study.py
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import typer

from common import DATA, DOCS  # beside this script
from generators.config import PuzzleConfig, TrainingRecipe

RECIPES: dict[str, TrainingRecipe] = {
    # The generator's default: Adam 1e-3, output projections initialised at zero.
    "default": TrainingRecipe(),
    # The same recipe with PyTorch's default initialisation everywhere.
    "default-init": TrainingRecipe(init="default"),
    # Decoupled weight decay, PyTorch's default initialisation.
    "adamw-wd0.1": TrainingRecipe(optimizer="adamw", weight_decay=0.1, init="default"),
}
RECIPE_NAMES = list(RECIPES)
RECIPES_HELP = f"Recipes (repeatable): {', '.join(RECIPES)}."


def signals(model, X):
    """Pairing accuracy, Spearman of ||W_out|| with depth, mean trace, seed-order MSE vs the model."""
    import torch
    from scipy.optimize import linear_sum_assignment
    from scipy.stats import spearmanr

    from solvers.grouping import ddr_scores

    w_in = torch.stack([b.weight["inp"].detach() for b in model.blocks])
    w_out = torch.stack([b.weight["out"].detach() for b in model.blocks])
    cols = linear_sum_assignment(ddr_scores(w_in, w_out).numpy(), maximize=True)[1]
    norms = w_out.flatten(1).norm(dim=1).numpy()
    blank = not bool(w_out.any())  # zero-initialised output projections: no signal to measure yet
    trace = torch.einsum("kdh,khd->k", w_out.double(), w_in.double())
    with torch.no_grad():
        target = model(X)
        fam = model.family
        delta = torch.stack([fam.branch(b.params(), X).norm(dim=1).mean() for b in model.blocks])
        h = X
        for k in torch.argsort(delta, stable=True).tolist():
            h = fam.block(model.blocks[k].params(), h)
        seed_mse = float(((fam.head(model.head.params(), h) - target) ** 2).mean())
    return {
        "pairing_accuracy": float("nan") if blank else float((cols == range(len(cols))).mean()),
        "wout_spearman": float("nan") if blank else float(spearmanr(range(len(norms)), norms).statistic),
        "mean_trace": float(trace.mean()),
        "mean_win_norm": float(w_in.flatten(1).norm(dim=1).mean()),
        "mean_wout_norm": float(norms.mean()),
        "seed_mse": seed_mse,
    }


def run_study(
    depths: list[int], recipes: list[str], epochs: int, seed: int, base: PuzzleConfig, progress: bool = True
) -> pd.DataFrame:  # noqa: F821
    import pandas as pd
    import torch

    from generators.build import sizes
    from generators.data import make_dataset
    from generators.model import build_model
    from generators.train import train
    from reassembly.families import get_family

    rows: list[dict] = []
    for depth in depths:
        for name in recipes:
            config = dataclasses.replace(
                base, depth=depth, seed=seed, recipe=dataclasses.replace(RECIPES[name], epochs=epochs)
            )
            data, _ = make_dataset(config)
            X = data.X[data.val][:1000].to(torch.float32)
            model = build_model(get_family(config.block), config.depth, sizes(config), config.seed, config.recipe.init)
            found: dict[int, dict] = {}
            curve = train(
                model,
                data,
                config.recipe,
                config.seed,
                progress=progress,
                on_epoch=lambda epoch, m, found=found, X=X: found.__setitem__(epoch, signals(m, X)),
            )
            for point in curve:
                rows.append({"depth": depth, "recipe": name, **point, **found[point["epoch"]], **config.to_dict()})
    return pd.DataFrame(rows)


def plot(df, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    depths = sorted(df.depth.unique())
    metrics = [
        ("pairing_accuracy", "DDR + Hungarian pairing accuracy"),
        ("wout_spearman", "Spearman(‖W_out‖_F, depth)"),
        ("seed_mse", "delta-norm seed MSE (true pairs)"),
    ]
    fig, axes = plt.subplots(
        len(metrics), len(depths), figsize=(4.2 * len(depths), 3.0 * len(metrics)), squeeze=False, sharex=True
    )
    for j, depth in enumerate(depths):
        for i, (col, label) in enumerate(metrics):
            ax = axes[i][j]
            for name, g in df[df.depth == depth].groupby("recipe", sort=False):
                ax.plot(g.epoch, g[col], label=name, marker=".")
            if col == "seed_mse":
                ax.set_yscale("log")
            if col == "wout_spearman":
                ax.axhline(0.99, color="grey", ls=":", lw=1)
            ax.set_title(f"depth {depth}" if i == 0 else "")
            ax.set_ylabel(label if j == 0 else "")
            if i == len(metrics) - 1:
                ax.set_xlabel("epoch")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(
    out: Path = typer.Option(DATA / "regimes.csv", help="The rows (CSV)."),
    plot_path: Path = typer.Option(DOCS / "regimes.png", "--plot", help="The figure."),
    depths: list[int] = typer.Option([8, 16, 48], "--depth", help="Depths to study (repeatable)."),
    recipes: list[str] = typer.Option(RECIPE_NAMES, "--recipe", help=RECIPES_HELP),
    epochs: int = typer.Option(20, help="Epochs per run (every epoch is a checkpoint)."),
    seed: int = typer.Option(0, help="Seed of data, initialisation and training."),
    threads: int = typer.Option(1, help="torch threads."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Train each (depth, recipe) once, recording the paper's signals at every epoch."""
    import torch

    from reassembly.errors import ConfigError

    unknown = [r for r in recipes if r not in RECIPES]
    if unknown:
        raise typer.BadParameter(f"unknown recipe(s) {unknown}; choose from {', '.join(RECIPES)}")
    torch.set_num_threads(threads)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        df = run_study(depths, recipes, epochs, seed, PuzzleConfig(), progress=not quiet)
    except ConfigError as exc:
        raise typer.BadParameter(str(exc)) from None
    df.to_csv(out, index=False)
    plot(df, plot_path)
    typer.echo(f"wrote {out} and {plot_path}")


if __name__ == "__main__":
    typer.run(main)
