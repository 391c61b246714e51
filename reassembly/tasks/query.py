"""Query-only reassembly: the pieces and an oracle of the original network in, an
:class:`~reassembly.answer.Assembly` out; judged as layer reassembly, with the queries the
harness's oracle counted (:mod:`reassembly.query`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reassembly.tasks.base import Column, Task
from reassembly.tasks.reassembly import Prepared, ReassemblyTask

ORACLE_FIELDS = ("queries", "query_calls", "queries_refused", "budget")


class QueryTask(Task):
    name = "query"
    description = "put a shuffled network back together from its pieces and a counted oracle of the original"
    oracle = True
    answer_fields = ("blocks", "head")
    columns = (
        Column("grouping_accuracy", "groups", "mean", ".1%"),
        Column("kendall_tau", "τ", "mean", ".3f"),
        Column("queries", "queries", "median", ",.0f"),
        Column("budget", "budget", "median", ",.0f"),
        Column("mse", "MSE", "median", ".2e"),
    )
    metrics = ("query_calls", "queries_refused", "order_exact")

    def visible_files(self, root: Path) -> list[str]:
        from reassembly.query.problem import visible_files

        return visible_files(root)

    def load(self, root: Path) -> Any:
        from reassembly.query.problem import load_query_puzzle

        return load_query_puzzle(root)

    def facts(self, problem: Any) -> dict[str, Any]:
        return {
            "depth": problem.depth,
            "family": problem.family.name,
            "rows": int(problem.X.shape[0]),
            "budget": problem.budget,
            **problem.layout.sizes,
        }

    def claims(self, result: Any) -> dict[str, Any]:
        return ReassemblyTask().claims(result)

    def prepare(self, root: Path, answer: Path | None) -> Prepared:
        """The pieces with the inputs sample and the true network's outputs on it as ``pred``."""
        return self._truth(root, answer)[0]

    def serve(self, root: Path, answer: Path | None) -> Any:
        from reassembly.query.oracle import Oracle
        from reassembly.scoring import outputs

        prepared, truth, budget = self._truth(root, answer)
        puzzle = prepared.puzzle
        return Oracle(lambda X: outputs(puzzle, truth, X), puzzle.layout.sizes["d"], budget)

    @staticmethod
    def _truth(root: Path, answer: Path | None) -> tuple[Prepared, Any, int]:
        import torch

        from reassembly.answer import load_answer
        from reassembly.errors import PuzzleError
        from reassembly.query.problem import load_query_puzzle
        from reassembly.scoring import outputs

        problem = load_query_puzzle(root)
        known = load_answer(answer) if answer is not None else None
        truth = known.assembly(problem.layout) if known is not None else None
        if truth is None:
            raise PuzzleError(f"{root}: a query-only problem needs its answer's ids (the oracle is the true network)")
        blank = problem.puzzle(problem.X, torch.zeros(len(problem.X), problem.layout.sizes["o"], dtype=torch.float64))
        return Prepared(problem.puzzle(problem.X, outputs(blank, truth)), known, 0.0), truth, problem.budget

    def attach(self, problem: Any, oracle: Any) -> Any:
        problem.oracle = oracle
        return problem

    def judge(self, prepared: Prepared, claims: dict[str, Any]) -> dict[str, Any]:
        judged = ReassemblyTask().judge(prepared, claims)
        return {**judged, **{k: claims.get(k) for k in ORACLE_FIELDS}}
