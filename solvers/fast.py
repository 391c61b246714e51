"""``fast``: DDR pairing, delta-norm seed, then first-order-screened parallel local search.

Every signal after pairing is a function of the network's outputs (invariant to rescaling or
permuting a block's hidden units). The search stops when the loss reaches the float floor (a
global optimum up to rounding) or no move of the exact neighbourhood improves it. Where the
cheap path ends above the floor, restarts from the exact swap deltas of every pair of blocks
(the best improving swap, else a Bradley–Terry ranking) give the search new starts. The solve
returns the certificate and the final MSE on all rows.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from reassembly.network import BlockStack, Evaluator
from reassembly.permutation import Assembly
from reassembly.puzzle import Puzzle
from reassembly.solver import BaseSolver, SolveResult, StageReport
from solvers.pipeline import DTYPES, check_choices
from solvers.stages.local_search import Config, forward_states, local_search
from solvers.stages.pairing import Pairing, pair_pieces
from solvers.stages.ranking import bradley_terry_order, swap_deltas
from solvers.stages.seeds import SEEDS, seed_order


def repairing_candidates(pairing: Pairing, top: int) -> list[tuple[int, int]]:
    """Stack-index pairs ``(a, b)``: give block ``a`` the output of block ``b`` where that output
    is among input ``a``'s ``top`` best-scoring alternatives."""
    if top <= 0:
        return []
    owner = {o: a for a, (_, o) in enumerate(pairing.pairs)}  # output piece id -> stack index
    outputs = sorted(owner)  # score columns follow the sorted output ids
    cands = set()
    for a, (_, own) in enumerate(pairing.pairs):
        ranked = [outputs[b] for b in np.argsort(-pairing.scores[a]) if outputs[b] != own][:top]
        cands.update(tuple(sorted((a, owner[o]))) for o in ranked)
    return sorted(cands)


@dataclass
class Descent:
    """Where one descent over the row levels ended."""

    cfg: Config
    loss: float  # on the rows of the level it ended on
    full: float  # on all rows (NaN where not measured)
    certificate: dict


class FastSolver(BaseSolver):
    """Exact and fast: parallel adjacent swaps screened by a first-order model, exact fallback moves.

    ``rows`` are nested row samples searched in turn (larger ones only where a smaller one stalls);
    the final MSE is on all rows. ``floor`` is relative to the mean squared target: a loss under it
    counts as zero (float rounding). ``repair_top > 0`` adds re-pairing moves (each input with its
    next-best output projections) to the certifying neighbourhood. Up to ``restarts`` restarts (exact swap deltas of all block
    pairs on ``restart_rows`` rows: the best improving swap, else a Bradley–Terry ranking) run only
    where the first descent ends above the floor, and go on while they improve.
    """

    def __init__(
        self,
        rows: tuple[int, ...] | int = (512, 1024),
        seed: str = "delta-norm",
        max_shift: int = 2,
        repair_top: int = 0,
        restarts: int = 10,
        restart_rows: int = 256,
        floor: float = 1e-9,
        max_rounds: int = 1000,
        dtype: str = "float32",
        random_state: int = 0,
    ) -> None:
        self.rows = rows
        self.seed = seed
        self.max_shift = max_shift
        self.repair_top = repair_top
        self.restarts = restarts
        self.restart_rows = restart_rows
        self.floor = floor
        self.max_rounds = max_rounds
        self.dtype = dtype
        self.random_state = random_state

    def _descend(
        self, cfg: Config, evs: list[Evaluator], full: Evaluator, stages: list[StageReport], label: str,
        candidates: list[tuple[int, int]] | None = None,
    ) -> Descent:
        """Screened search on each row level in turn, stopping once all rows are at the floor.

        With ``candidates`` (re-pairings) the last level also runs the exact neighbourhood, which
        is what the certificate speaks of; without, the descent stops when screening stalls.
        """
        full_floor = self.floor * float(full.target.pow(2).mean())
        for level, ev in enumerate(evs):
            last = level == len(evs) - 1
            t0, e0 = time.perf_counter(), ev.evaluations
            cfg, loss, log, certificate = local_search(
                ev, cfg, self.floor * float(ev.target.pow(2).mean()), self.max_rounds, self.max_shift,
                candidates or [], exact_fallback=last and candidates is not None,
            )
            stages.append(
                StageReport(
                    "search", f"{label}@{ev.X.shape[0]}rows", mse=loss, rounds=log.rounds, swaps=log.swaps + log.insertions,
                    evaluations=ev.evaluations - e0, seconds=time.perf_counter() - t0,
                    details={"insertions": log.insertions, "repairings": log.repairings, "screened": log.screened,
                             "history": log.history, "stop": certificate["kind"]},
                )
            )
            if certificate["kind"] == "zero-loss":
                final = float(full.loss(forward_states(full, cfg)[-1]))
                if final <= full_floor:
                    return Descent(cfg, loss, final, certificate)
                certificate = {"kind": "subset-zero-loss", "loss": loss}
        return Descent(cfg, loss, float("nan"), certificate)

    def _restart_order(self, puzzle: Puzzle, stack: BlockStack, cfg: Config, rows: int, stages: list[StageReport]) -> Config:
        """A new start from the exact swap deltas of every pair of blocks around ``cfg`` (pairing
        kept): the best improving swap where one exists, else the Bradley–Terry ranking."""
        t0 = time.perf_counter()
        pairs = [(stack.pairs[i][0], stack.pairs[o][1]) for i, o in zip(cfg.ins.tolist(), cfg.outs.tolist())]
        local = BlockStack.from_pairs(puzzle, pairs, stack.w_in.dtype)  # block k = position k of cfg
        ev = Evaluator.for_puzzle(puzzle, local, rows, self.random_state + 1)
        current = list(range(len(pairs)))
        delta = swap_deltas(ev, current)
        a, b = divmod(int(torch.argmin(delta)), len(pairs))
        if delta[a, b] < 0:
            current[a], current[b] = current[b], current[a]
            order, method, iterations = current, "best-pair-swap", 0
        else:
            order, fit = bradley_terry_order(delta, current)
            method, iterations = "bradley-terry", fit.iterations
        idx = torch.tensor(order)
        stages.append(StageReport("restart", f"{method}@{rows}rows", rounds=iterations, evaluations=ev.evaluations,
                                  seconds=time.perf_counter() - t0))
        return Config(cfg.ins[idx], cfg.outs[idx])

    def solve(self, puzzle: Puzzle) -> SolveResult:
        check_choices(seed=(self.seed, SEEDS), dtype=(self.dtype, DTYPES))
        t_start = time.perf_counter()
        stages: list[StageReport] = []

        t0 = time.perf_counter()
        pairing = pair_pieces(puzzle, "ddr")
        stack = BlockStack.from_pairs(puzzle, pairing.pairs, DTYPES[self.dtype])
        stages.append(StageReport("pairing", "ddr", seconds=time.perf_counter() - t0, details={"gap": pairing.gap}))

        t0 = time.perf_counter()
        levels = [self.rows] if isinstance(self.rows, int) else list(self.rows)
        evs = [Evaluator.for_puzzle(puzzle, stack, n, self.random_state) for n in levels]  # nested row sets
        order = torch.tensor(seed_order(stack, evs[-1].X, self.seed))
        seed_report = StageReport("seed", self.seed, seconds=time.perf_counter() - t0, details={"rows": evs[-1].X.shape[0]})
        stages.append(seed_report)

        full = Evaluator.for_puzzle(puzzle, stack)
        first_search = len(stages)
        best = self._descend(Config(order.clone(), order.clone()), evs, full, stages, "screened-swaps")
        seed_report.mse = stages[first_search].details["history"][0]  # on the first level's rows
        for restart in range(self.restarts):
            if best.certificate["kind"] == "zero-loss":
                break
            start = self._restart_order(puzzle, stack, best.cfg, self.restart_rows, stages)
            found = self._descend(start, evs, full, stages, f"restart{restart + 1}")
            if found.loss >= best.loss:
                break
            best = found
        if best.certificate["kind"] != "zero-loss":  # polish and certify: exact neighbourhood, re-pairings
            best = self._descend(best.cfg, evs[-1:], full, stages, "certify", repairing_candidates(pairing, self.repair_top))
            if math.isnan(best.full):
                best.full = float(full.loss(forward_states(full, best.cfg)[-1]))

        blocks = tuple((stack.pairs[i][0], stack.pairs[o][1]) for i, o in zip(best.cfg.ins.tolist(), best.cfg.outs.tolist()))
        certificate = {**best.certificate, "rows": evs[-1].X.shape[0], "final_mse_all_rows": best.full,
                       "all_rows": puzzle.n_rows}
        return SolveResult(
            permutation=Assembly(blocks, puzzle.roles.last).permutation(),
            stages=stages,
            seconds=time.perf_counter() - t_start,
            certificate=certificate,
        )
