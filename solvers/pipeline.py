"""A solver composed of the paper's stages: pairing → seed → ranking → repair."""
from __future__ import annotations

import time

import torch

from reassembly.errors import SolverError
from reassembly.network import BlockStack, Evaluator
from reassembly.permutation import Assembly
from reassembly.puzzle import Puzzle
from reassembly.solver import BaseSolver, SolveResult, StageReport
from solvers.stages.pairing import SCORES, pair_pieces
from solvers.stages.ranking import bradley_terry_order, swap_deltas
from solvers.stages.repair import bubble_repair
from solvers.stages.seeds import SEEDS, seed_order

DTYPES = {"float32": torch.float32, "float64": torch.float64}
RANKINGS = ("bradley-terry", "none")
SAMPLINGS = ("random", "head")


def check_choices(**options: tuple[object, object]) -> None:
    """Raise :class:`SolverError` for an option whose value is not among its allowed ones."""
    for what, (value, allowed) in options.items():
        if value not in allowed:
            raise SolverError(f"unknown {what} {value!r}; choose from {', '.join(map(str, allowed))}")


def permutation_of(puzzle: Puzzle, stack: BlockStack, order: list[int]) -> list[int]:
    """Jane Street permutation of the blocks of ``stack`` taken in ``order``."""
    return Assembly(blocks=tuple(stack.pairs[k] for k in order), last=puzzle.roles.last).permutation()


class StagedSolver(BaseSolver):
    """Pairing by ``pairing`` score + Hungarian, ``seed`` order, optional Bradley–Terry ranking, bubble repair.

    ``rows`` rows (drawn with ``random_state``, or the first ones with ``row_sampling="head"``)
    drive seed, ranking and repair; every stage's reported MSE is on all rows in float64.
    ``temperature`` is the Bradley–Terry sigmoid's (``None``: the median |swap delta|). The paper's
    figures are reproduced with ``rows=2000, row_sampling="head", temperature=1e-3``
    (docs/paper-reproduction.md).
    """

    def __init__(
        self,
        pairing: str = "ddr",
        seed: str = "delta-norm",
        ranking: str = "bradley-terry",
        rows: int | None = 1000,
        temperature: float | None = None,
        max_rounds: int = 500,
        dtype: str = "float32",
        random_state: int = 0,
        row_sampling: str = "random",
    ) -> None:
        self.pairing = pairing
        self.seed = seed
        self.ranking = ranking
        self.rows = rows
        self.temperature = temperature
        self.max_rounds = max_rounds
        self.dtype = dtype
        self.random_state = random_state
        self.row_sampling = row_sampling

    def _check(self) -> None:
        check_choices(pairing=(self.pairing, SCORES), seed=(self.seed, SEEDS), ranking=(self.ranking, RANKINGS),
                      dtype=(self.dtype, DTYPES), row_sampling=(self.row_sampling, SAMPLINGS))

    def solve(self, puzzle: Puzzle) -> SolveResult:
        self._check()
        t_start = time.perf_counter()
        stages: list[StageReport] = []

        t0 = time.perf_counter()
        pairing = pair_pieces(puzzle, self.pairing)
        stack = BlockStack.from_pairs(puzzle, pairing.pairs, DTYPES[self.dtype])
        stages.append(
            StageReport(
                "pairing", self.pairing, seconds=time.perf_counter() - t0,
                details={"assigned_min": pairing.assigned_min, "unassigned_max": pairing.unassigned_max, "gap": pairing.gap},
            )
        )
        work = Evaluator.for_puzzle(puzzle, stack, self.rows, self.random_state, self.row_sampling)
        full = Evaluator.for_puzzle(puzzle, BlockStack.from_pairs(puzzle, pairing.pairs, torch.float64))

        t0 = time.perf_counter()
        order = seed_order(stack, work.X, self.seed)
        stages.append(StageReport("seed", self.seed, mse=full.mse(order), seconds=time.perf_counter() - t0))

        if self.ranking == "bradley-terry":
            t0, e0 = time.perf_counter(), work.evaluations
            delta = swap_deltas(work, order)
            order, fit = bradley_terry_order(delta, order, self.temperature)
            stages.append(
                StageReport(
                    "ranking", "bradley-terry", mse=full.mse(order), rounds=fit.iterations,
                    evaluations=work.evaluations - e0, seconds=time.perf_counter() - t0,
                    details={"temperature": fit.temperature, "mm_iterations": fit.iterations},
                )
            )

        t0, e0 = time.perf_counter(), work.evaluations
        order, log = bubble_repair(work, order, self.max_rounds)
        stages.append(
            StageReport(
                "repair", "bubble", mse=full.mse(order), rounds=len(log.rounds) - 1, swaps=log.swaps,
                evaluations=work.evaluations - e0, seconds=time.perf_counter() - t0,
                details={"history": log.rounds},
            )
        )
        return SolveResult(
            permutation=permutation_of(puzzle, stack, order), stages=stages, seconds=time.perf_counter() - t_start
        )
