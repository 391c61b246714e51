"""Layer reassembly: pieces and data in, an :class:`~reassembly.answer.Assembly` out."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reassembly.answer import Answer, Assembly, load_answer, validate
from reassembly.errors import PermutationError
from reassembly.puzzle import Puzzle
from reassembly.tasks.base import Task

RTOL = 1e-6  # MSEs this close (relative, or under 1e-12 absolute) count as equal when classing a miss


@dataclass
class Prepared:
    puzzle: Puzzle
    answer: Answer | None
    true_mse: float


def failure_class(exact: bool | None, mse: float, true_mse: float) -> str | None:
    """``None`` for an exact answer or where nothing is known; else ``search`` (the answer's MSE is
    above the true assembly's: a better answer existed) or ``identifiability`` (at or below it:
    the data cannot tell them apart); ``unknown`` where only the answer's hash is known."""
    if exact is not False:
        return None
    if math.isnan(true_mse):
        return "unknown"
    return "search" if mse > true_mse * (1 + RTOL) and mse - true_mse > 1e-12 else "identifiability"


class ReassemblyTask(Task):
    name = "reassembly"
    description = "put a shuffled residual network back together from its pieces and a data table"
    answer_fields = ("blocks", "head")

    def visible_files(self, root: Path) -> list[str]:
        from reassembly.loader import visible_files

        return visible_files(root)

    def load(self, root: Path) -> Puzzle:
        from reassembly.loader import load_puzzle

        return load_puzzle(root)

    def facts(self, problem: Puzzle) -> dict[str, Any]:
        from reassembly.identifiability import of_puzzle

        test = of_puzzle(problem)
        return {
            "depth": problem.depth,
            "rows": problem.n_rows,
            "family": problem.family.name,
            **problem.layout.sizes,
            "identifiable": None if test is None else test.identifiable,
        }

    def prepared_facts(self, prepared: Prepared) -> dict[str, Any]:
        return self.facts(prepared.puzzle)

    def claims(self, result: Any) -> dict[str, Any]:
        from reassembly.solver import SolveResult

        if not isinstance(result, SolveResult):
            raise TypeError(f"the solver returned a {type(result).__name__}, not a SolveResult")
        a = result.assembly
        stages = [
            {
                "stage": str(s.stage),
                "method": str(s.method),
                "mse": float(s.mse),
                "evaluations": int(s.evaluations),
                "seconds": float(s.seconds),
            }
            for s in result.stages
        ]
        return {
            "blocks": [list(b) for b in a.blocks],
            "head": list(a.head),
            "evaluations": result.evaluations,
            "trace": stages,
            "certificate": dict(result.certificate) if result.certificate else None,
        }

    def prepare(self, root: Path, answer: Path | None) -> Prepared:
        from reassembly.loader import load_puzzle
        from reassembly.scoring import network_mse

        puzzle = load_puzzle(root)
        known = load_answer(answer) if answer is not None else None
        truth = known.assembly(puzzle.layout) if known is not None else None
        return Prepared(puzzle, known, network_mse(puzzle, truth) if truth is not None else math.nan)

    def judge(self, prepared: Prepared, claims: dict[str, Any]) -> dict[str, Any]:
        from reassembly.scoring import score

        try:
            assembly = Assembly(tuple(claims.get("blocks") or ()), tuple(claims.get("head") or ()))
        except TypeError as exc:
            raise PermutationError(f"the answer is not a list of blocks of piece ids ({exc})") from None
        validate(assembly, prepared.puzzle.layout)
        s = score(prepared.puzzle, assembly, prepared.answer)
        return {
            **s.as_dict(),
            "answer": assembly.text(),
            "true_mse": prepared.true_mse,
            "failure": failure_class(s.exact, s.mse, prepared.true_mse),
        }
