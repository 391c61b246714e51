"""A toy task from outside: put numbers in increasing order (its task, generator and solver)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from reassembly.errors import PermutationError
from reassembly.params import Configurable
from reassembly.tasks.base import Column, Task


class SortTask(Task):
    description = "put numbers in increasing order"
    columns = (Column("misplaced", "misplaced", "mean", ".1f"),)
    answer_fields = ("order",)  # what of the claims is the answer (the referee keeps only these)

    def visible_files(self, root: Path) -> list[str]:
        return ["numbers.json"]

    def load(self, root: Path) -> list[float]:
        return json.loads((root / "numbers.json").read_text())

    def facts(self, problem: list[float]) -> dict[str, Any]:
        return {"rows": len(problem)}

    def claims(self, result: Any) -> dict[str, Any]:
        return {"order": [int(i) for i in result]}

    def prepare(self, root: Path, answer: Path | None) -> Any:
        return self.load(root), json.loads(answer.read_text())["order"] if answer else None

    def judge(self, prepared: Any, claims: dict[str, Any]) -> dict[str, Any]:
        numbers, truth = prepared
        order = claims.get("order")
        if sorted(order) != list(range(len(numbers))):
            raise PermutationError("not a permutation of the numbers")
        misplaced = sum(a != b for a, b in zip(order, truth)) if truth is not None else None
        return {"exact": None if truth is None else misplaced == 0, "misplaced": misplaced}


def generate_sort(
    config: Any,
    out_dir: str | Path,
    cache_dir: Any = None,
    progress: bool = True,
    use_cache: bool = True,
    force: bool = False,
    label: str | None = None,
    size: int = 8,
) -> None:
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    numbers = random.Random(config.seed).sample(range(1000), size)
    (root / "numbers.json").write_text(json.dumps(numbers))
    (root / "answer.json").write_text(json.dumps({"order": sorted(range(size), key=numbers.__getitem__)}))
    (root / "generation.json").write_text(json.dumps({"seed": config.seed, "size": size}))


class SortSolver(Configurable):
    """Sorts.

    Parameters
    ----------
    reverse
        Sort the wrong way (to be scored as a miss).
    """

    def __init__(self, reverse: bool = False) -> None:
        self.reverse = reverse

    def solve(self, numbers: list[float]) -> list[int]:
        return sorted(range(len(numbers)), key=numbers.__getitem__, reverse=self.reverse)
