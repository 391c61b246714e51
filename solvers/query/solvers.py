"""Query-only reassembly solvers: fixed random queries (``query-random``) and committee
disagreement sampling adapted to assemblies (``query-committee``, after "Sequencing the Neurome")."""

from __future__ import annotations

import itertools
import time

import torch

from reassembly.params import Interval
from reassembly.query.problem import QueryPuzzle
from reassembly.scoring import outputs
from reassembly.solver import BaseSolver, SolveResult, StageReport
from solvers.oracles import disagreement
from solvers.query.common import ask, best_of, relative_loss, row_order, solve_rows

FLOOR = 1e-9  # a relative loss this small on every row asked: the assembly fits the oracle


class RandomQuerySolver(BaseSolver):
    """Asks about ``queries`` random rows of the input sample at once, then solves the layer-reassembly
    puzzle they make.

    Parameters
    ----------
    queries
        Rows to ask about (at most the budget).
    restarts
        Runs of the inner solver (random states ``random_state``, ``random_state + 1``, ...); the
        answer with the lowest loss is returned.
    inner
        The registered layer-reassembly solver that orders the pieces.
    random_state
        Seed of the rows drawn and of the inner solver.
    """

    constraints = {"queries": Interval(1, None), "restarts": Interval(1, None), "random_state": Interval(0, None)}

    def __init__(self, queries: int = 32, restarts: int = 1, inner: str = "fast", random_state: int = 0) -> None:
        self.queries = queries
        self.restarts = restarts
        self.inner = inner
        self.random_state = random_state

    def solve(self, problem: QueryPuzzle) -> SolveResult:
        self.validate()
        stages: list[StageReport] = []
        X = problem.X[row_order(problem, self.random_state)[: self.queries]]
        Y = ask(problem, X)
        X = X[: len(Y)]
        found = solve_rows(problem, X, Y, self.inner, [self.random_state + r for r in range(self.restarts)], stages)
        return best_of(found, stages, len(X))


class CommitteeQuerySolver(BaseSolver):
    """Committee disagreement sampling over assemblies: ask about a few random rows; while no
    assembly fits every answer, keep the best assemblies the inner solver finds as the committee
    still in play and ask about the rows of the input sample on which they disagree most (mean
    pairwise L1 distance of their normalised outputs, as the paper's loss), then solve again.

    Parameters
    ----------
    initial
        Random rows asked about first.
    batch
        Rows added per round (those the committee disagrees on most).
    committee
        Most assemblies in the committee (the lowest losses found so far).
    restarts
        Runs of the inner solver per round (new random states each round).
    pool
        Unasked sample rows scored for disagreement per round.
    inner
        The registered layer-reassembly solver that orders the pieces.
    random_state
        Seed of the rows drawn and of the inner solver.
    """

    constraints = {
        "initial": Interval(1, None),
        "batch": Interval(1, None),
        "committee": Interval(2, None),
        "restarts": Interval(1, None),
        "pool": Interval(1, None),
        "random_state": Interval(0, None),
    }

    def __init__(
        self,
        initial: int = 8,
        batch: int = 4,
        committee: int = 4,
        restarts: int = 2,
        pool: int = 2048,
        inner: str = "fast",
        random_state: int = 0,
    ) -> None:
        self.initial = initial
        self.batch = batch
        self.committee = committee
        self.restarts = restarts
        self.pool = pool
        self.inner = inner
        self.random_state = random_state

    def solve(self, problem: QueryPuzzle) -> SolveResult:
        self.validate()
        stages: list[StageReport] = []
        order = row_order(problem, self.random_state)
        X = problem.X[order[: self.initial]]
        Y = ask(problem, X)
        X, unasked = X[: len(Y)], order[self.initial :]
        found: dict = {}
        seeds = itertools.count(self.random_state)
        while True:
            found.update(solve_rows(problem, X, Y, self.inner, [next(seeds) for _ in range(self.restarts)], stages))
            puzzle = problem.puzzle(X, Y)
            found = {
                k: (a, relative_loss(puzzle, a)) for k, (a, _) in found.items()
            }  # losses on every row asked so far
            members = sorted(found.values(), key=lambda v: v[1])[: self.committee]
            if members[0][1] <= FLOOR or not len(unasked) or problem.oracle.remaining == 0:
                return best_of(found, stages, len(X))
            t0 = time.perf_counter()
            pool = unasked[: self.pool]
            pick = pool[
                _disagreement(puzzle, [a for a, _ in members], problem.X[pool]).argsort(descending=True)[: self.batch]
            ]
            unasked = unasked[~torch.isin(unasked, pick)]
            new = ask(problem, problem.X[pick])
            X, Y = torch.cat([X, problem.X[pick][: len(new)]]), torch.cat([Y, new])
            stages.append(
                StageReport(
                    "query",
                    "committee-disagreement",
                    seconds=time.perf_counter() - t0,
                    details={"rows": len(new), "committee": len(members), "total": len(X)},
                )
            )


def _disagreement(puzzle, members: list, rows: torch.Tensor) -> torch.Tensor:
    """Per row, the mean pairwise L1 distance of the members' outputs, each output over the spread
    of the answers so far (random order where the committee agrees everywhere)."""
    outs = torch.stack([outputs(puzzle, a, rows) for a in members]) / puzzle.pred.std(0).clamp_min(1e-12)
    if len(members) < 2:
        return torch.rand(len(rows), generator=torch.Generator().manual_seed(len(rows)))
    return disagreement(outs)
