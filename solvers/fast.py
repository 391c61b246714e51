"""``fast``: DDR pairing, delta-norm seed, then first-order-screened parallel local search.

Every signal after pairing is a function of the network's outputs (invariant to rescaling or
permuting a block's hidden units). The search stops when the loss reaches the float floor (a
global optimum up to rounding) or no move of the exact neighbourhood improves it; the solve
returns that certificate and the final MSE on all rows.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from reassembly.network import BlockStack, Evaluator
from reassembly.permutation import Assembly
from reassembly.puzzle import Puzzle
from reassembly.solver import BaseSolver, SolveResult, StageReport
from solvers.pipeline import DTYPES
from solvers.stages.local_search import Config, forward_states, local_search
from solvers.stages.pairing import Pairing, pair_pieces
from solvers.stages.seeds import seed_order


def repairing_candidates(pairing: Pairing, top: int) -> list[tuple[int, int]]:
    """Stack-index pairs ``(a, b)``: give block ``a`` the output of block ``b`` where that output
    is among input ``a``'s ``top`` best-scoring alternatives."""
    if top <= 0:
        return []
    scores = pairing.scores
    owner = np.empty(scores.shape[1], dtype=int)
    cols = [None] * scores.shape[0]
    out_index = {o: j for j, o in enumerate(sorted({o for _, o in pairing.pairs}))}
    for a, (_, o) in enumerate(pairing.pairs):
        cols[a] = out_index[o]
        owner[out_index[o]] = a
    cands = []
    for a in range(scores.shape[0]):
        ranked = [int(b) for b in np.argsort(-scores[a]) if b != cols[a]][:top]
        cands += [(a, int(owner[b])) for b in ranked]
    return sorted({tuple(sorted(c)) for c in cands})


class FastSolver(BaseSolver):
    """Exact and fast: parallel adjacent swaps screened by a first-order model, exact fallback moves.

    ``rows`` rows drive the search; the final MSE is on all rows. ``floor`` is relative to the
    mean squared target: a loss under it counts as zero (float rounding).
    """

    def __init__(
        self,
        rows: tuple[int, ...] | int = (512, 1024),
        seed: str = "delta-norm",
        max_shift: int = 2,
        repair_top: int = 1,
        floor: float = 1e-9,
        max_rounds: int = 1000,
        dtype: str = "float32",
        random_state: int = 0,
    ) -> None:
        self.rows = rows
        self.seed = seed
        self.max_shift = max_shift
        self.repair_top = repair_top
        self.floor = floor
        self.max_rounds = max_rounds
        self.dtype = dtype
        self.random_state = random_state

    def solve(self, puzzle: Puzzle) -> SolveResult:
        t_start = time.perf_counter()
        dtype = DTYPES[self.dtype]
        stages: list[StageReport] = []

        t0 = time.perf_counter()
        pairing = pair_pieces(puzzle, "ddr")
        stack = BlockStack.from_pairs(puzzle, pairing.pairs, dtype)
        stages.append(StageReport("pairing", "ddr", seconds=time.perf_counter() - t0, details={"gap": pairing.gap}))

        t0 = time.perf_counter()
        levels = [self.rows] if isinstance(self.rows, int) else list(self.rows)
        evs = [Evaluator.for_puzzle(puzzle, stack, n, self.random_state) for n in levels]  # nested row sets
        order = torch.tensor(seed_order(stack, evs[-1].X, self.seed))
        cfg = Config(order.clone(), order.clone())
        seed_report = StageReport("seed", self.seed, seconds=time.perf_counter() - t0, details={"rows": evs[-1].X.shape[0]})
        stages.append(seed_report)

        candidates = repairing_candidates(pairing, self.repair_top)
        full = Evaluator.for_puzzle(puzzle, stack)
        full_floor = self.floor * float(full.target.pow(2).mean())
        final = float("nan")
        for level, ev in enumerate(evs):
            last = level == len(evs) - 1
            t0, e0 = time.perf_counter(), ev.evaluations
            cfg, loss, log, certificate = local_search(
                ev, cfg, self.floor * float(ev.target.pow(2).mean()), self.max_rounds, self.max_shift, candidates,
                exact_fallback=last,
            )
            if level == 0:
                seed_report.mse = log.history[0]  # on this level's rows
            stages.append(
                StageReport(
                    "search", f"screened-swaps@{ev.X.shape[0]}rows", mse=loss, rounds=log.rounds,
                    swaps=log.swaps + log.insertions, evaluations=ev.evaluations - e0, seconds=time.perf_counter() - t0,
                    details={"insertions": log.insertions, "repairings": log.repairings, "screened": log.screened,
                             "history": log.history, "stop": certificate["kind"]},
                )
            )
            if certificate["kind"] == "zero-loss" or last:
                final = float(full.loss(forward_states(full, cfg)[-1]))
                if final <= full_floor or last:
                    break
        if certificate["kind"] == "zero-loss" and final > full_floor:
            certificate = {"kind": "subset-zero-loss", "loss": certificate["loss"]}

        blocks = tuple((stack.pairs[i][0], stack.pairs[o][1]) for i, o in zip(cfg.ins.tolist(), cfg.outs.tolist()))
        certificate = {**certificate, "rows": ev.X.shape[0], "final_mse_all_rows": final, "all_rows": puzzle.n_rows}
        return SolveResult(
            permutation=Assembly(blocks, puzzle.roles.last).permutation(),
            stages=stages,
            seconds=time.perf_counter() - t_start,
            certificate=certificate,
        )
