"""CPU training with a rich progress bar and a recorded loss curve."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext

import torch
from torch import nn

from generators.config import TrainingRecipe
from generators.data import Dataset
from generators.seeding import generator
from reassembly.errors import ConfigError

EpochCallback = Callable[[int, nn.Module], None]


def make_optimizer(recipe: TrainingRecipe, params) -> torch.optim.Optimizer:
    if recipe.optimizer == "adam":
        return torch.optim.Adam(params, lr=recipe.lr, weight_decay=recipe.weight_decay)
    if recipe.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=recipe.lr, weight_decay=recipe.weight_decay)
    return torch.optim.SGD(params, lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay)


def _progress(enabled: bool):
    if not enabled:
        return nullcontext(None)
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        transient=False,
    )


@torch.no_grad()
def _loss(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    return float(nn.functional.mse_loss(model(X), y))


@contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one thread inside the block (restoring the previous count after)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@single_thread()
def train(
    model: nn.Module,
    data: Dataset,
    recipe: TrainingRecipe,
    seed: int,
    progress: bool = True,
    on_epoch: EpochCallback | None = None,
    label: str = "training",
) -> list[dict]:
    """Train ``model`` in float32 with MSE; return the loss curve ``[{epoch, train_loss, val_loss}]``.

    Epoch 0 is the initial model. With early stopping the best-validation weights are restored.
    ``on_epoch(epoch, model)`` is called after every epoch (and for epoch 0). Runs on one CPU
    thread (faster for these small matrices, and the result does not depend on the core count).
    ``label`` names the run on the progress bar. A loss that stops being finite (the recipe
    diverges) raises :class:`ConfigError` at once: no puzzle is written from such a model.
    """
    X = data.X.to(torch.float32)
    y = data.true.to(torch.float32)
    Xtr, ytr, Xva, yva = X[data.train], y[data.train], X[data.val], y[data.val]
    gen = generator(seed, "train")
    opt = make_optimizer(recipe, model.parameters())
    steps_per_epoch = -(-len(data.train) // recipe.batch_size)
    sched = (
        torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=recipe.epochs * steps_per_epoch)
        if recipe.schedule == "cosine"
        else None
    )
    curve = [{"epoch": 0, "train_loss": _loss(model, Xtr, ytr), "val_loss": _loss(model, Xva, yva)}]
    if on_epoch:
        on_epoch(0, model)
    best, best_state, stale = curve[0]["val_loss"], None, 0
    n = len(Xtr)
    with _progress(progress) as bar:
        task = bar.add_task(label, total=recipe.epochs, status="") if bar else None
        for epoch in range(1, recipe.epochs + 1):
            model.train()
            total = 0.0
            for idx in torch.randperm(n, generator=gen).split(recipe.batch_size):
                loss = nn.functional.mse_loss(model(Xtr[idx]), ytr[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if sched:
                    sched.step()
                total += float(loss.detach()) * len(idx)
            if not math.isfinite(total):
                raise ConfigError(
                    f"training diverged in epoch {epoch} (loss {total / n}): lower the learning rate "
                    f"(lr {recipe.lr:g} with {recipe.optimizer}) or change the recipe"
                )
            model.eval()
            val = _loss(model, Xva, yva)
            curve.append({"epoch": epoch, "train_loss": total / n, "val_loss": val})
            if on_epoch:
                on_epoch(epoch, model)
            if bar:
                bar.update(task, advance=1, status=f"train {total / n:.4f} val {val:.4f}")
            if recipe.early_stopping is not None:
                if val < best:
                    best, best_state, stale = val, copy.deepcopy(model.state_dict()), 0
                else:
                    stale += 1
                    if stale >= recipe.early_stopping:
                        break
    if recipe.early_stopping is not None and best_state is not None:
        model.load_state_dict(best_state)
    return curve
