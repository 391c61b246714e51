"""The paper's pipeline ("I Dropped a Neural Net"): grouping by a weight score + Hungarian, a seed
order, Bradley–Terry ranking, bubble repair; and its variants ``paper-hillclimb`` and ``cosine``."""

from __future__ import annotations

import time

import torch

from reassembly.answer import Assembly
from reassembly.errors import UnsupportedPuzzle
from reassembly.kernel import PieceStack
from reassembly.params import Interval, OneOf
from reassembly.puzzle import Puzzle
from reassembly.solver import BaseSolver, SolveResult, StageReport
from solvers.grouping import SCORES, check_groupable, group_pieces
from solvers.ranking import bradley_terry_order, bubble_repair, swap_deltas
from solvers.rows import evaluator, single_head
from solvers.seeds import SEEDS, seed_order

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def check_applies(puzzle: Puzzle) -> None:
    """The paper's signals place two-piece blocks (one read, one write projection) only."""
    slots, fam = puzzle.family.slots, puzzle.family
    if sorted(s.role for s in slots) != ["read", "write"]:
        extra = [s.name for s in slots if s.role not in ("read", "write")] or [
            s.name for s in slots if s.role == "read"
        ][1:]
        if fam.data_format == "sequences":
            raise UnsupportedPuzzle(
                f"the paper's pipeline pairs one input with one output projection per block; {fam.name!r} "
                f"layers have {len(slots)} pieces ({', '.join(s.name for s in slots)}): its DDR pairs their "
                f"MLP projections (docs/real-networks.md), but no signal of the paper places Q, K, V, O "
                f"or the norms"
            )
        raise UnsupportedPuzzle(
            f"the paper's pipeline pairs one input with one output projection per block; "
            f"{fam.name!r} blocks also have {', '.join(extra)}, which its signals cannot place"
        )


class StagedSolver(BaseSolver):
    """Grouping by a weight score + Hungarian, a seed order, optional Bradley–Terry ranking, bubble repair.

    Parameters
    ----------
    pairing
        Pairing score: ``ddr`` (diagonal dominance ratio of ``W_out W_in``) or ``cosine``.
    seed
        Seed order: ``delta-norm`` or ``wout-norm``, each optionally ``-reversed``.
    ranking
        ``bradley-terry`` (fit to all pairwise swap deltas around the seed) or ``none``.
    rows
        Rows that drive seed, ranking and repair (drawn with ``random_state``); ``None``: all.
    temperature
        The Bradley–Terry sigmoid's temperature (``None``: the median absolute swap delta).
    max_rounds
        Most bubble-repair sweeps.
    dtype
        Floating type of the search (reported MSEs are float64 on all rows).
    random_state
        Seed of the row sample.
    row_sampling
        ``random`` rows, or the first ``rows`` (``head``, the paper's reading).
    """

    constraints = {
        "pairing": OneOf(tuple(SCORES)),
        "seed": OneOf(SEEDS),
        "ranking": OneOf(("bradley-terry", "none")),
        "rows": Interval(2, None),
        "temperature": Interval(0, None, closed=False),
        "max_rounds": Interval(1, None),
        "dtype": OneOf(tuple(DTYPES)),
        "random_state": Interval(0, None),
        "row_sampling": OneOf(("random", "head")),
    }

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

    def check(self, puzzle: Puzzle) -> None:
        check_applies(puzzle)
        check_groupable(puzzle)
        single_head(puzzle)

    def solve(self, puzzle: Puzzle) -> SolveResult:
        self.validate()
        self.check(puzzle)
        stages: list[StageReport] = []
        t0 = time.perf_counter()
        grouping = group_pieces(puzzle, self.pairing)
        head = single_head(puzzle)
        stack = PieceStack(puzzle, DTYPES[self.dtype])
        arr = stack.arrangement(Assembly(grouping.blocks, head))
        stages.append(
            StageReport("pairing", self.pairing, seconds=time.perf_counter() - t0, details={"gap": grouping.gap})
        )
        work = evaluator(puzzle, stack, head, self.rows, self.random_state, self.row_sampling)
        full = evaluator(puzzle, PieceStack(puzzle, torch.float64), head)

        t0 = time.perf_counter()
        arr = seed_order(work, arr, self.seed)
        stages.append(StageReport("seed", self.seed, mse=full.mse(arr), seconds=time.perf_counter() - t0))
        if self.ranking == "bradley-terry":
            t0, e0 = time.perf_counter(), work.evaluations
            order, fit = bradley_terry_order(swap_deltas(work, arr), self.temperature)
            arr = arr[order]
            stages.append(
                StageReport(
                    "ranking",
                    "bradley-terry",
                    mse=full.mse(arr),
                    rounds=fit.iterations,
                    evaluations=work.evaluations - e0,
                    seconds=time.perf_counter() - t0,
                    details={"temperature": fit.temperature},
                )
            )
        t0, e0 = time.perf_counter(), work.evaluations
        arr, log = bubble_repair(work, arr, self.max_rounds)
        stages.append(
            StageReport(
                "repair",
                "bubble",
                mse=full.mse(arr),
                rounds=len(log) - 1,
                swaps=sum(r["swaps"] for r in log),
                evaluations=work.evaluations - e0,
                seconds=time.perf_counter() - t0,
                details={"history": log},
            )
        )
        return SolveResult(stack.assembly(arr, head), stages)


class PaperSolver(StagedSolver):
    """The paper: DDR + Hungarian pairing, delta-norm seed, Bradley–Terry, bubble repair.

    Parameters
    ----------
    pairing, seed, ranking, rows, temperature, max_rounds, dtype, random_state, row_sampling
        As for the staged pipeline; the paper's figures use ``rows=2000, row_sampling="head",
        temperature=1e-3`` (docs/paper-reproduction.md).
    """


class PaperHillclimbSolver(StagedSolver):
    """The paper's §5: the same without Bradley–Terry, bubble repair straight from the seed.

    Parameters
    ----------
    pairing, seed, ranking, rows, temperature, max_rounds, dtype, random_state, row_sampling
        As for the staged pipeline; ``ranking`` defaults to ``none``.
    """

    def __init__(self, pairing: str = "ddr", seed: str = "delta-norm", ranking: str = "none", **kwargs: object) -> None:
        super().__init__(pairing=pairing, seed=seed, ranking=ranking, **kwargs)  # type: ignore[arg-type]


class CosineSolver(StagedSolver):
    """Pairs by per-hidden-unit cosine of read and write vectors (after "Find the Lady"), then the paper's ordering.

    Parameters
    ----------
    pairing, seed, ranking, rows, temperature, max_rounds, dtype, random_state, row_sampling
        As for the staged pipeline; ``pairing`` defaults to ``cosine``.
    """

    def __init__(self, pairing: str = "cosine", **kwargs: object) -> None:
        super().__init__(pairing=pairing, **kwargs)  # type: ignore[arg-type]
