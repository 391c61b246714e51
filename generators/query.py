"""Query-only reassembly problems: a generated puzzle's pieces and inputs, without its outputs,
and a budget of oracle rows."""

from __future__ import annotations

import json
from pathlib import Path

from generators.build import TrainedModel, build_puzzle
from generators.config import PuzzleConfig
from generators.output import METADATA_NAME, fresh_directory
from reassembly.answer import ANSWER_NAME, save_answer
from reassembly.errors import ConfigError
from reassembly.query.problem import save_query_puzzle

DEFAULT_BUDGET = 2000


def generate_query(
    config: PuzzleConfig,
    out_dir: str | Path,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    use_cache: bool = True,
    force: bool = False,
    label: str | None = None,
    budget: int = DEFAULT_BUDGET,
) -> TrainedModel:
    """Write the puzzle of ``config`` as a query-only problem with ``budget`` oracle rows, with its
    ``answer.json`` (never for solvers) and ``generation.json``."""
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ConfigError(f"query budget must be an integer >= 1 (rows the oracle answers), got {budget!r}")
    root = fresh_directory(Path(out_dir), force)
    puzzle, answer, trained = build_puzzle(config, cache_dir, progress, use_cache, label)
    save_query_puzzle(puzzle, budget, root)
    save_answer(answer, root / ANSWER_NAME)
    meta = {"config": config.to_dict(), "budget": budget, "loss_curve": trained.loss_curve}
    (root / METADATA_NAME).write_text(json.dumps(meta, indent=1) + "\n")
    return trained
