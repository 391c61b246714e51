"""The referee: judges what a solver returned, never what it claims, through the problem's task, on
the referee's own copy of the problem (loaded before any solver ran), after strict validation."""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

from reassembly.harness.plan import PuzzleEntry
from reassembly.tasks import get_task


class Referee:
    """Loads each problem once (its most recent ``keep`` problems stay in memory) and judges answers."""

    def __init__(self, keep: int = 4) -> None:
        self.keep = keep
        self._prepared: OrderedDict[str, Any] = OrderedDict()

    def prepare(self, entry: PuzzleEntry) -> Any:
        """The referee's copy of ``entry`` (call before handing the problem to any solver)."""
        if entry.id in self._prepared:
            self._prepared.move_to_end(entry.id)
            return self._prepared[entry.id]
        prepared = get_task(entry.task).prepare(Path(entry.path), Path(entry.answer) if entry.answer else None)
        self._prepared[entry.id] = prepared
        while len(self._prepared) > self.keep:
            self._prepared.popitem(last=False)
        return prepared

    def judge(self, entry: PuzzleEntry, claims: dict[str, Any]) -> dict[str, Any]:
        """Metrics of the answer in ``claims``; raises :class:`~reassembly.errors.PermutationError`
        where it is not a valid answer for the problem."""
        return get_task(entry.task).judge(self.prepare(entry), claims)
