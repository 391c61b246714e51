"""Neuron re-synchronisation: a reference network and a permuted (perhaps perturbed) copy in, one
permutation per layer out (:mod:`reassembly.resync`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reassembly.resync.problem import ResyncAnswer, ResyncProblem, problem_files
from reassembly.safeio import regular_file
from reassembly.tasks.base import Column, Task


@dataclass
class Prepared:
    problem: ResyncProblem
    answer: ResyncAnswer | None


def stage_dicts(stages: list[Any]) -> list[dict[str, Any]]:
    """A solver's stage reports as plain data."""
    return [
        {
            "stage": str(s.stage),
            "method": str(s.method),
            "mse": float(s.mse),
            "evaluations": int(s.evaluations),
            "seconds": float(s.seconds),
        }
        for s in stages
    ]


class ResyncTask(Task):
    name = "resync"
    description = "recover every layer's permutation of a network's hidden units from a reference copy"
    answer_fields = ("perms", "flags")
    columns = (
        Column("psi", "Ψ", "mean", ".1%"),
        Column("unit_share", "units", "mean", ".1%"),
        Column("weight_error", "w-err", "median", ".2e"),
        Column("output_error", "out-err", "median", ".2e"),
        Column("false_flags", "false flags", "sum", ",.0f"),
        Column("flag_recall", "attack found", "mean", ".0%"),
    )
    metrics = ("layers", "layers_exact", "units", "flagged", "flag_precision", "missed")

    def visible_files(self, root: Path) -> list[str]:
        names = problem_files(root)
        for name in names:
            regular_file(root / name, "re-synchronisation file")
        return list(names)

    def load(self, root: Path) -> ResyncProblem:
        from reassembly.resync.problem import load_problem

        return load_problem(root)

    def facts(self, problem: ResyncProblem) -> dict[str, Any]:
        return {"depth": problem.depth, "family": problem.family.name, "rows": int(problem.X.shape[0]), **problem.sizes}

    def claims(self, result: Any) -> dict[str, Any]:
        from reassembly.resync.problem import ResyncResult

        if not isinstance(result, ResyncResult):
            raise TypeError(f"the solver returned a {type(result).__name__}, not a ResyncResult")
        perms = [p.tolist() if hasattr(p, "tolist") else list(p) for p in result.perms]
        return {
            "perms": perms,
            "flags": [list(f) for f in result.flags],
            "trace": stage_dicts(result.stages),
            "evaluations": sum(int(s.evaluations) for s in result.stages),
        }

    def prepare(self, root: Path, answer: Path | None) -> Prepared:
        from reassembly.resync.problem import load_answer, load_problem

        return Prepared(load_problem(root), load_answer(answer) if answer is not None else None)

    def judge(self, prepared: Prepared, claims: dict[str, Any]) -> dict[str, Any]:
        from reassembly.resync.scoring import judge

        perms = claims.get("perms")
        scored = judge(prepared.problem, prepared.answer, perms, claims.get("flags") or [])
        text = ";".join(",".join(map(str, p)) for p in perms)
        return {**scored, "sha256": hashlib.sha256(text.encode()).hexdigest()}
