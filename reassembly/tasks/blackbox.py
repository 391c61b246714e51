"""Black-box parameter reconstruction: an oracle of a small ReLU network in, its parameters out;
judged by the largest parameter error after canonicalisation ("Sequencing the Neurome") and the
queries the harness's oracle counted (:mod:`reassembly.query.blackbox`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from reassembly.query.blackbox import SPEC_NAME, BlackboxProblem
from reassembly.safeio import regular_file
from reassembly.tasks.base import Column, Task
from reassembly.tasks.query import ORACLE_FIELDS
from reassembly.tasks.resync import stage_dicts

TOLERANCE = 1e-4  # the paper's bar: a reconstruction within this largest parameter error counts as exact
PROBE_ROWS = 4096


@dataclass
class Prepared:
    problem: BlackboxProblem
    truth: dict[str, torch.Tensor] | None


class BlackboxTask(Task):
    name = "blackbox"
    description = "recover a small ReLU network's parameters from a counted oracle (up to its isomorphisms)"
    oracle = True
    answer_fields = ("params",)
    columns = (
        Column("max_error", "max err", "median", ".1e"),
        Column("mean_error", "mean err", "median", ".1e"),
        Column("output_error", "out-err", "median", ".1e"),
        Column("queries", "queries", "median", ",.0f"),
        Column("budget", "budget", "median", ",.0f"),
    )
    metrics = ("query_calls", "queries_refused")

    def visible_files(self, root: Path) -> list[str]:
        regular_file(root / SPEC_NAME, "black-box spec")
        return [SPEC_NAME]

    def load(self, root: Path) -> BlackboxProblem:
        from reassembly.query.blackbox import load_problem

        return load_problem(root)

    def facts(self, problem: BlackboxProblem) -> dict[str, Any]:
        return {**problem.sizes, "budget": problem.budget}

    def claims(self, result: Any) -> dict[str, Any]:
        from reassembly.query.blackbox import BlackboxResult

        if not isinstance(result, BlackboxResult):
            raise TypeError(f"the solver returned a {type(result).__name__}, not a BlackboxResult")
        params = {
            k: (v.detach().double().tolist() if isinstance(v, torch.Tensor) else v) for k, v in result.params.items()
        }
        return {
            "params": params,
            "trace": stage_dicts(result.stages),
            "evaluations": sum(int(s.evaluations) for s in result.stages),
        }

    def prepare(self, root: Path, answer: Path | None) -> Prepared:
        from reassembly.query.blackbox import load_answer, load_problem

        problem = load_problem(root)
        return Prepared(problem, load_answer(answer, problem) if answer is not None else None)

    def serve(self, root: Path, answer: Path | None) -> Any:
        from reassembly.errors import PuzzleError
        from reassembly.query.mlp import forward
        from reassembly.query.oracle import Oracle

        prepared = self.prepare(root, answer)
        truth = prepared.truth
        if truth is None:
            raise PuzzleError(f"{root}: a black-box problem needs its answer (the oracle is the true network)")
        return Oracle(lambda X: forward(truth, X), prepared.problem.d, prepared.problem.budget)

    def attach(self, problem: BlackboxProblem, oracle: Any) -> BlackboxProblem:
        problem.oracle = oracle
        return problem

    def judge(self, prepared: Prepared, claims: dict[str, Any]) -> dict[str, Any]:
        from reassembly.query.mlp import check_params, output_error, parameter_errors

        p = prepared.problem
        params = check_params(claims.get("params"), p.d, p.h, p.o, layers=p.layers)
        counts = {k: claims.get(k) for k in ORACLE_FIELDS}
        if prepared.truth is None:
            return {"exact": None, **counts}
        errors = parameter_errors(prepared.truth, params)
        probes = torch.randn(PROBE_ROWS, p.d, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        return {
            "exact": errors["max_error"] < TOLERANCE,
            **errors,
            "output_error": output_error(prepared.truth, params, probes),
            **counts,
        }
