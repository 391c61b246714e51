"""What both query-only reassembly solvers share: rows to ask about, asking, and solving the
layer-reassembly puzzle the answers make with any registered reassembly solver."""

from __future__ import annotations

import time

import torch

from reassembly.answer import Assembly
from reassembly.errors import SolverError
from reassembly.query.problem import QueryPuzzle
from reassembly.registry import get_spec
from reassembly.scoring import network_mse
from reassembly.solver import SolveResult, StageReport
from solvers.oracles import ask_within_budget, require_oracle


def oracle_of(problem: QueryPuzzle):
    return require_oracle(problem, "query-only")


def row_order(problem: QueryPuzzle, seed: int) -> torch.Tensor:
    """The problem's sample rows in a seeded random order (rows are asked about in this order)."""
    return torch.randperm(len(problem.X), generator=torch.Generator().manual_seed(seed))


def ask(problem: QueryPuzzle, rows: torch.Tensor) -> torch.Tensor:
    """The oracle's outputs for ``rows``, within what is left of the budget (the solver's own count)."""
    return ask_within_budget(oracle_of(problem), rows, problem.layout.sizes["o"])


def relative_loss(puzzle, assembly: Assembly) -> float:
    """MSE on the rows asked so far over their mean squared output."""
    return network_mse(puzzle, assembly) / max(float(puzzle.pred.pow(2).mean()), 1e-300)


def solve_rows(
    problem: QueryPuzzle, X: torch.Tensor, Y: torch.Tensor, inner: str, seeds: list[int], stages: list[StageReport]
) -> dict[str, tuple[Assembly, float]]:
    """Run the reassembly solver ``inner`` once per seed (its ``random_state``) on the rows asked so
    far; the distinct answers with their relative losses."""
    puzzle = problem.puzzle(X, Y)
    spec = get_spec(inner)
    found: dict[str, tuple[Assembly, float]] = {}
    for seed in seeds:
        t0 = time.perf_counter()
        try:
            solver = spec.make(random_state=seed)
        except SolverError:  # a solver without random_state: the same run each time
            solver = spec.make()
        result = solver.solve(puzzle)
        loss = relative_loss(puzzle, result.assembly)
        found[result.assembly.text()] = (result.assembly, loss)
        stages.append(
            StageReport(
                "solve",
                f"{inner}@{len(X)}rows",
                mse=loss,
                evaluations=result.evaluations,
                seconds=time.perf_counter() - t0,
                details={"random_state": seed},
            )
        )
    return found


def best_of(found: dict[str, tuple[Assembly, float]], stages: list[StageReport], queries: int) -> SolveResult:
    assembly, loss = min(found.values(), key=lambda v: v[1])
    return SolveResult(
        assembly, stages, {"kind": "zero-loss" if loss <= 1e-9 else "best-found", "loss": loss, "queries": queries}
    )
