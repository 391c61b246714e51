"""The referee: scores what a solver returned, never what it claims, on the referee's own copy of
the puzzle (loaded before any solver ran), after strict validation of the answer.

A miss is classed by comparing the answer's MSE with the true assembly's: ``search`` where the
solver's MSE is above it (a better answer existed and was not found), ``identifiability`` where
it is at or below it (the data cannot tell the answer from the truth).
"""
from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from reassembly.answer import Answer, Assembly, validate
from reassembly.errors import PermutationError
from reassembly.harness.plan import PuzzleEntry, load_entry_answer
from reassembly.puzzle import Puzzle

RTOL = 1e-6  # MSEs this close (relative, or under 1e-12 absolute) count as equal when classing a miss


@dataclass
class Judged:
    puzzle: Puzzle
    answer: Answer | None
    true_mse: float


class Referee:
    """Loads each puzzle once (its most recent ``keep`` puzzles stay in memory) and scores answers."""

    def __init__(self, keep: int = 4) -> None:
        self.keep = keep
        self._puzzles: OrderedDict[str, Judged] = OrderedDict()

    def prepare(self, entry: PuzzleEntry) -> Judged:
        """The referee's copy of ``entry`` (call before handing the puzzle to any solver)."""
        from reassembly.loader import load_puzzle
        from reassembly.scoring import network_mse

        if entry.id in self._puzzles:
            self._puzzles.move_to_end(entry.id)
            return self._puzzles[entry.id]
        puzzle = load_puzzle(entry.path)
        answer = load_entry_answer(entry)
        truth = answer.assembly(puzzle.layout) if answer is not None else None
        judged = Judged(puzzle, answer, network_mse(puzzle, truth) if truth is not None else math.nan)
        self._puzzles[entry.id] = judged
        while len(self._puzzles) > self.keep:
            self._puzzles.popitem(last=False)
        return judged

    def judge(self, entry: PuzzleEntry, claims: dict[str, Any]) -> dict[str, Any]:
        """Metrics of the answer in ``claims`` (``blocks`` and ``head``); raises
        :class:`PermutationError` where it is not a valid answer for the puzzle."""
        from reassembly.scoring import score

        judged = self.prepare(entry)
        try:
            assembly = Assembly(tuple(claims.get("blocks") or ()), tuple(claims.get("head") or ()))
        except TypeError as exc:
            raise PermutationError(f"the answer is not a list of blocks of piece ids ({exc})") from None
        validate(assembly, judged.puzzle.layout)
        s = score(judged.puzzle, assembly, judged.answer)
        return {**s.as_dict(), "answer": assembly.text(), "true_mse": judged.true_mse,
                "failure": failure_class(s.exact, s.mse, judged.true_mse)}


def failure_class(exact: bool | None, mse: float, true_mse: float) -> str | None:
    """``None`` for an exact answer or where nothing is known, else ``search`` or ``identifiability``."""
    if exact is not False:
        return None
    if math.isnan(true_mse):
        return "unknown"
    above = mse > true_mse * (1 + RTOL) and mse - true_mse > 1e-12
    return "search" if above else "identifiability"
