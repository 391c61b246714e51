"""The referee: judges what a solver returned, never what it claims, through the problem's task, on
the referee's own copy of the problem (loaded before any solver ran), after strict validation.

The referee reads a problem from a private copy checked against the hashes the bench took when it
planned (:func:`~reassembly.harness.puzzles.sealed_copy`), so a solver that rewrites the stored
files (``OUT/puzzles``, ``OUT/answers``) changes nothing it is scored on: the run becomes an error
row instead. The facts of a row (family, depth, rows, sizes) are read here too, not taken from
the solver's process.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

from reassembly.harness.plan import PuzzleEntry
from reassembly.harness.puzzles import sealed_copy
from reassembly.tasks import get_task


class Referee:
    """Loads each problem once (its most recent ``keep`` problems stay in memory) and judges answers.

    Parameters
    ----------
    keep
        How many prepared problems stay in memory (one evicted is read again, from a copy checked
        against the planned hashes).
    """

    def __init__(self, keep: int = 4) -> None:
        self.keep = keep
        self._prepared: OrderedDict[str, Any] = OrderedDict()
        self._facts: dict[str, dict[str, Any]] = {}

    def prepare(self, entry: PuzzleEntry) -> Any:
        """The referee's copy of ``entry`` (call before handing the problem to any solver)."""
        if entry.id in self._prepared:
            self._prepared.move_to_end(entry.id)
            return self._prepared[entry.id]
        task = get_task(entry.task)
        tmp = Path(tempfile.mkdtemp(prefix="reassembly-referee-"))
        try:
            root, answer = sealed_copy(entry, tmp)
            prepared = task.prepare(root, answer)
            if entry.id not in self._facts:
                facts = task.prepared_facts(prepared)
                self._facts[entry.id] = dict(facts if facts is not None else task.facts(task.load(root)))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self._prepared[entry.id] = prepared
        while len(self._prepared) > self.keep:
            self._prepared.popitem(last=False)
        return prepared

    def facts(self, entry: PuzzleEntry) -> dict[str, Any]:
        """The problem's facts for its row (sizes, depth, rows, family), read by the referee."""
        if entry.id not in self._facts:
            self.prepare(entry)
        return dict(self._facts[entry.id])

    def judge(self, entry: PuzzleEntry, claims: dict[str, Any]) -> dict[str, Any]:
        """Metrics of the answer in ``claims``; raises :class:`~reassembly.errors.PermutationError`
        where it is not a valid answer for the problem."""
        return get_task(entry.task).judge(self.prepare(entry), claims)
