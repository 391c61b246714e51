"""``fast``: DDR pairing, delta-norm seed (either direction), first-order-screened parallel local
search, then iterated local search with long-range insertions and random kicks.

Every signal after pairing is a function of the network's outputs (invariant to rescaling or
permuting a block's hidden units). The search stops when the loss reaches the float floor (a
global optimum up to rounding) or no move of the exact neighbourhood improves it. Where the
first descent ends above the floor, iterated local search restarts the descent from the best
exactly verified long-range insertion (one block moved anywhere, screened to first order), then
from the best screened insertions of blocks far from their place whether or not they pay at
once, and otherwise from a random kick (larger where the search stalls), keeping what improves.
Every ``whiten_after`` steps (sooner while every step still pays) it also runs a short iterated
search on a whitened loss (:mod:`solvers.stages.whitening`), which has the same global optimum
but not the MSE's local optima where misplacements compensate each other, and repeats it while
it pays. The least confident pairs are questioned by swapping their output projections: once
cheaply before the iterated search, in full where the floor is still out of reach. The solve
returns the certificate and the final MSE on all rows.
"""
from __future__ import annotations

import itertools
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
from solvers.stages.insertion import best_insertion, long_insertions, predict_insertions
from solvers.stages.local_search import SearchLog, local_search
from solvers.stages.pairing import Pairing, pair_pieces
from solvers.stages.seeds import SEEDS, delta_norm, seed_order
from solvers.stages.states import Config, config_loss, forward_states
from solvers.stages.whitening import whitening_metric


def _columns(pairing: Pairing) -> tuple[dict[int, int], list[int]]:
    """Output piece id -> stack index of its block, and the output ids in score-column order."""
    owner = {o: a for a, (_, o) in enumerate(pairing.pairs)}
    return owner, sorted(owner)  # score columns follow the sorted output ids


def weakest_pairs(pairing: Pairing, count: int) -> list[int]:
    """Stack indices of the ``count`` blocks whose assigned pairing score is lowest, weakest first."""
    _, outputs = _columns(pairing)
    column = {o: c for c, o in enumerate(outputs)}
    assigned = [pairing.scores[a, column[o]] for a, (_, o) in enumerate(pairing.pairs)]
    return np.argsort(assigned, kind="stable")[:count].tolist()


def repairing_candidates(pairing: Pairing, top: int) -> list[tuple[int, int]]:
    """Stack-index pairs ``(a, b)``: give block ``a`` the output of block ``b`` where that output
    is among input ``a``'s ``top`` best-scoring alternatives."""
    if top <= 0:
        return []
    owner, outputs = _columns(pairing)
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
    next-best output projections) to the certifying neighbourhood. ``seed="auto"`` starts from
    whichever direction of the delta-norm seed has the lower loss. Where the first descent ends
    above the floor, up to ``search_steps`` iterated-search steps each descend from the best of
    the ``insert_top`` best screened insertions (screened on ``screen_rows`` rows, verified
    exactly) or, where none improves, from each of the ``long_moves`` best screened moves of more
    than ``kick_shift`` places (one per block, one per step), then from kicks of ``kick_moves``
    random insertions within ``kick_shift`` positions. The search stops after ``patience`` steps
    without improvement (``None``: half the depth, at least 10), or once ``settle`` failed steps
    since the last improvement have descended back to the same order (the optimum is stable:
    typical of lossy pieces). After every ``whiten_after`` steps, or after the first
    ``whiten_early`` steps of a segment where each of them lowered the MSE (a long descent still
    under way, which the whitened loss covers faster), one attempt: the metric whitening the output
    changes of all insertions within ``whiten_window`` places (regularised by ``whiten``; 0 turns
    this off) is computed at the current order, ``alternations`` pairs of descents (whitened, then
    MSE; stopping after ``alternation_patience`` pairs in a row that do not lower the MSE) are
    tried, then up to ``whiten_kicks`` steps of an iterated search on the whitened loss and an MSE
    descent from where it ends; the result is kept where the MSE falls, and attempts follow one
    another while each lowers the MSE by more than the fraction ``stall_gain``. Each segment (steps
    and attempts) that lowers the MSE by less than that fraction doubles the next segment's kicks
    (at most half the depth in moves); one that does resets them. The ``doubt`` least confident
    pairs (lowest DDR score) swap output projections two at a time: before the iterated search,
    the swap with the lowest loss in place gets one descent, kept only where it reaches the floor;
    where the search still ends above the floor, each candidate whose loss in place is within
    ``doubt_ratio`` times the current one gets a descent, and the best one, where it already beats
    the order found, an iterated search.
    """

    def __init__(
        self,
        rows: tuple[int, ...] | int = (512, 1024),
        seed: str = "auto",
        max_shift: int = 2,
        repair_top: int = 0,
        search_steps: int = 500,
        patience: int | None = None,
        settle: int = 3,
        kick_moves: int = 3,
        kick_shift: int = 8,
        insert_top: int = 16,
        long_moves: int = 4,
        screen_rows: int = 128,
        doubt: int = 4,
        doubt_ratio: float = 10.0,
        whiten: float = 1e-2,
        whiten_window: int = 10,
        alternations: int = 0,
        alternation_patience: int = 2,
        whiten_after: int = 10,
        whiten_early: int = 3,
        whiten_kicks: int = 5,
        stall_gain: float = 0.05,
        floor: float = 1e-9,
        max_rounds: int = 1000,
        dtype: str = "float32",
        random_state: int = 0,
    ) -> None:
        self.rows = rows
        self.seed = seed
        self.max_shift = max_shift
        self.repair_top = repair_top
        self.search_steps = search_steps
        self.patience = patience
        self.settle = settle
        self.kick_moves = kick_moves
        self.kick_shift = kick_shift
        self.insert_top = insert_top
        self.long_moves = long_moves
        self.screen_rows = screen_rows
        self.doubt = doubt
        self.doubt_ratio = doubt_ratio
        self.whiten = whiten
        self.whiten_window = whiten_window
        self.alternations = alternations
        self.alternation_patience = alternation_patience
        self.whiten_after = whiten_after
        self.whiten_early = whiten_early
        self.whiten_kicks = whiten_kicks
        self.stall_gain = stall_gain
        self.floor = floor
        self.max_rounds = max_rounds
        self.dtype = dtype
        self.random_state = random_state

    def _descend(
        self, cfg: Config, evs: list[Evaluator], full: Evaluator, stages: list[StageReport], label: str,
        candidates: list[tuple[int, int]] | None = None, stop_on_stall: bool = False,
    ) -> Descent:
        """Screened search on each row level in turn, stopping once all rows are at the floor
        (with ``stop_on_stall``, also after the first level that ends above it).

        With ``candidates`` (re-pairings) the last level also runs the exact neighbourhood, which
        is what the certificate speaks of; without, the descent stops when screening stalls.
        """
        full_floor = self._floor(full)
        for level, ev in enumerate(evs):
            last = level == len(evs) - 1
            t0, e0 = time.perf_counter(), ev.evaluations
            cfg, loss, log, certificate = self._local(ev, cfg, candidates or [], exact_fallback=last and candidates is not None)
            stages.append(
                StageReport(
                    "search", f"{label}@{ev.X.shape[0]}rows", mse=loss, rounds=log.rounds, swaps=log.swaps + log.insertions,
                    evaluations=ev.evaluations - e0, seconds=time.perf_counter() - t0,
                    details={"insertions": log.insertions, "repairings": log.repairings, "screened": log.screened,
                             "history": log.history, "stop": certificate["kind"]},
                )
            )
            if certificate["kind"] == "zero-loss":
                final = config_loss(full, cfg)
                if final <= full_floor:
                    return Descent(cfg, loss, final, certificate)
                certificate = {"kind": "subset-zero-loss", "loss": loss}
            elif stop_on_stall:
                break
        return Descent(cfg, loss, float("nan"), certificate)

    def _local(
        self, ev: Evaluator, cfg: Config, candidates: list[tuple[int, int]] | None = None, exact_fallback: bool = False
    ) -> tuple[Config, float, SearchLog, dict]:
        """One descent on ``ev``'s rows with this solver's neighbourhood settings."""
        return local_search(ev, cfg, self._floor(ev), self.max_rounds, self.max_shift, candidates or [], exact_fallback)

    def _kick(self, cfg: Config, rng: np.random.Generator, moves: int | None = None) -> Config:
        """``kick_moves`` random insertions, each moving one block at most ``kick_shift`` positions."""
        D = len(cfg.ins)
        idx = list(range(D))
        for _ in range(self.kick_moves if moves is None else moves):
            a = int(rng.integers(D))
            b = min(max(a + int(rng.integers(-self.kick_shift, self.kick_shift + 1)), 0), D - 1)
            idx.insert(b, idx.pop(a))
        t = torch.tensor(idx)
        return Config(cfg.ins[t], cfg.outs[t])

    def _floor(self, ev: Evaluator) -> float:
        """The loss counted as zero on ``ev``'s rows: ``floor`` times the mean squared target."""
        return self.floor * float(ev.target.pow(2).mean())

    def _patience(self, depth: int) -> int:
        return max(10, depth // 2) if self.patience is None else self.patience

    def _iterated_search(
        self, cfg: Config, ev: Evaluator, stages: list[StageReport], patience: int | None = None,
        max_steps: int | None = None, label: str = "", insert_top: int | None = None,
        rng: np.random.Generator | None = None, kick_moves: int | None = None, early: int = 0,
    ) -> tuple[Config, float]:
        """Iterated local search on ``ev``'s rows. Each step starts a screened-swap descent from
        the best verified long-range insertion (screened on ``screen_rows`` rows) or, where none
        improves, from the next of the ``long_moves`` best screened far moves
        (:func:`solvers.stages.insertion.long_insertions`), and once those are spent from a random
        kick; the result is kept where it is better. Stops at the floor,
        after ``search_steps`` steps, after ``patience`` steps in a row without improvement, or
        once ``settle`` failed steps since the last improvement have come back to the same order,
        or (``early`` > 0) once its first ``early`` steps have each improved. ``insert_top``
        overrides the solver's (0: kicks only); ``rng`` draws the kicks (default: seeded with
        ``random_state``), ``kick_moves`` overrides their size. On a whitened ``ev``
        the screen is whitened too (its own metric on the screen rows). The report's ``stop``
        says which rule ended it."""
        t0, e0 = time.perf_counter(), ev.evaluations
        insert_top = self.insert_top if insert_top is None else insert_top
        floor = self._floor(ev)
        screen = ev.first_rows(self.screen_rows)
        if ev.metric is not None:
            screen = screen.with_metric(whitening_metric(screen, cfg, self.whiten_window, self.whiten))
        loss = float(ev.loss(forward_states(ev, cfg)[-1]))
        rng = np.random.default_rng(self.random_state) if rng is None else rng
        history, steps, stale = [loss], 0, 0
        accepted = {"insertion": 0, "long": 0, "kick": 0}
        patience = self._patience(len(cfg.ins)) if patience is None else patience
        max_steps = self.search_steps if max_steps is None else max_steps
        screened = insert_top <= 0  # whether the current cfg is known to have no improving insertion
        returns = 0  # failed steps since the last improvement whose descent came back to the same cfg
        starts: list[Config] = []  # long-range insertions of the current cfg still to descend from
        while (steps < max_steps and stale < patience and returns < self.settle and loss > floor
               and not self._improving(early, steps, history)):
            steps += 1
            found = None
            if not screened:
                predicted = predict_insertions(screen, cfg)
                found = best_insertion(ev, screen, cfg, loss, insert_top, predicted)
                starts = long_insertions(predicted, cfg, self.kick_shift, self.long_moves) if not found else []
            if found:
                kind, start = "insertion", found[0]
            elif starts:
                kind, start = "long", starts.pop(0)
            else:
                kind, start = "kick", self._kick(cfg, rng, kick_moves)
            trial, trial_loss, _, _ = self._local(ev, start)
            if trial_loss < loss:
                cfg, loss, stale = trial, trial_loss, 0
                accepted[kind] += 1
                history.append(loss)
                screened = insert_top <= 0
            else:  # cfg unchanged; an improving insertion's descent always improves
                stale += 1
                screened = True
                returns += trial.same_as(cfg)
        stages.append(
            StageReport(
                "iterated-search", f"{label}insert-top{insert_top}+kicks@{ev.X.shape[0]}rows", mse=loss,
                rounds=steps, swaps=len(history) - 1, evaluations=ev.evaluations - e0 + screen.evaluations,
                seconds=time.perf_counter() - t0,
                details={"history": history, "accepted": accepted, "kick_moves": self.kick_moves if kick_moves is None else kick_moves,
                         "stop": self._stop(loss, floor, steps, max_steps, stale, patience, returns,
                                            self._improving(early, steps, history))},
            )
        )
        return cfg, loss

    @staticmethod
    def _improving(early: int, steps: int, history: list[float]) -> bool:
        """Whether the first ``early`` (> 0) steps of an iterated search have all lowered the loss
        (``history``: the start's loss and each improvement's)."""
        return 0 < early == steps == len(history) - 1

    def _stop(
        self, loss: float, floor: float, steps: int, max_steps: int, stale: int, patience: int, returns: int, improving: bool = False,
    ) -> str:
        """Which of the iterated search's stopping rules holds (the first, in this order)."""
        rules = {"floor": loss <= floor, "settled": returns >= self.settle, "patience": stale >= patience,
                 "improving": improving, "steps": steps >= max_steps}
        return next((name for name, hit in rules.items() if hit), "running")

    def _whitened_search(
        self, cfg: Config, loss: float, ev: Evaluator, stages: list[StageReport], label: str = "",
        kicks: int = 0, rng: np.random.Generator | None = None,
    ) -> tuple[Config, float]:
        """One attempt on the whitened loss (:mod:`solvers.stages.whitening`), which shares the
        MSE's global optimum but not its compensating local optima: up to ``alternations`` times,
        the metric is recomputed at the current order and a descent on the whitened loss is
        followed by one on the MSE. Stops once the MSE reaches the floor or after
        ``alternation_patience`` rounds in a row that do not lower the best MSE so far, and returns
        the best round (the start where none is better). With ``kicks``, an iterated search of at
        most that many steps on the whitened loss (screened insertions and random kicks, patience
        10; the metric of the best round, recomputed where that is not a round's start) follows,
        then a descent on the MSE from where it ends. ``loss`` is the MSE of ``cfg`` on ``ev``'s
        rows; returns the order and its MSE. The caller keeps the result only where its MSE is
        lower."""
        t0, e0 = time.perf_counter(), ev.evaluations
        floor = self._floor(ev)
        history, whitened = [], []  # MSE after each round; (order, whitened evaluator) of each metric
        best, best_loss, stale = cfg, loss, 0
        for _ in range(self.alternations):
            whitened.append((cfg, ev.with_metric(whitening_metric(ev, cfg, self.whiten_window, self.whiten))))
            cfg, loss, _, _ = self._local(ev, self._local(whitened[-1][1], cfg)[0])
            history.append(loss)
            if loss < best_loss:
                best, best_loss, stale = cfg, loss, 0
            else:
                stale += 1
            if best_loss <= floor or stale >= self.alternation_patience:
                break
        cfg, final = best, best_loss
        if kicks > 0 and best_loss > floor:
            metric = next((w for at, w in whitened if at is cfg), None)  # a round started here: reuse its metric
            if metric is None:
                whitened.append((cfg, ev.with_metric(whitening_metric(ev, cfg, self.whiten_window, self.whiten))))
                metric = whitened[-1][1]
            cfg = self._iterated_search(cfg, metric, [], patience=10, max_steps=kicks, rng=rng)[0]
            cfg, final, _, _ = self._local(ev, cfg)  # settle on the MSE before comparing
            history.append(final)
        stages.append(
            StageReport("whitened-search", f"{label}lambda{self.whiten:g}-window{self.whiten_window}@{ev.X.shape[0]}rows",
                        mse=final, rounds=len(history),
                        evaluations=ev.evaluations - e0 + sum(w.evaluations for _, w in whitened),
                        seconds=time.perf_counter() - t0, details={"mse_history": history})
        )
        return cfg, final

    def _search(
        self, cfg: Config, ev: Evaluator, stages: list[StageReport], patience: int | None = None,
        max_steps: int | None = None, label: str = "",
    ) -> tuple[Config, float]:
        """Iterated search on the MSE, interleaved with attempts on the whitened loss: after every
        ``whiten_after`` iterated-search steps, or after ``whiten_early`` where each of them lowered
        the MSE, one attempt (with ``whiten_kicks`` steps of an iterated search on the whitened
        loss), kept where it lowers the MSE, and another at once while each lowers it by more than
        the fraction ``stall_gain``. A segment that lowers the MSE by less than that fraction
        doubles the kicks of the next (the search sits in a funnel that small kicks do not leave).
        Stops at the floor, once the iterated search settles, after ``patience`` steps without
        improvement (attempts included), or after ``max_steps`` (default ``search_steps``) steps
        in all."""
        floor = self._floor(ev)
        loss = float(ev.loss(forward_states(ev, cfg)[-1]))
        steps_left = self.search_steps if max_steps is None else max_steps
        patience = self._patience(len(cfg.ins)) if patience is None else patience
        segment = self.whiten_after if self.whiten > 0 else steps_left
        rng, whiten_rng = np.random.default_rng(self.random_state), np.random.default_rng(self.random_state + 1)
        stale = 0  # steps since the last improvement, counted per segment
        stalled = 0  # segments in a row that lowered the loss by less than ``stall_gain``
        while True:
            start_loss = loss
            moves = min(self.kick_moves << stalled, max(self.kick_moves, len(cfg.ins) // 2))
            found, found_loss = self._iterated_search(cfg, ev, stages, patience - stale, min(segment, steps_left), label, rng=rng,
                                                      kick_moves=moves, early=self.whiten_early if self.whiten > 0 else 0)
            steps_left -= stages[-1].rounds
            stale = 0 if found_loss < loss else stale + stages[-1].rounds
            cfg, loss = found, found_loss
            if stages[-1].details["stop"] not in ("steps", "improving") or steps_left <= 0 or self.whiten <= 0:
                return cfg, loss
            while True:  # attempts in a row while each lowers the MSE by more than ``stall_gain``
                trial, trial_loss = self._whitened_search(cfg, loss, ev, stages, label, self.whiten_kicks, whiten_rng)
                gained = trial_loss < (1 - self.stall_gain) * loss
                if trial_loss < loss:
                    cfg, loss, stale = trial, trial_loss, 0
                    if loss <= floor:
                        return cfg, loss
                if not gained:
                    break
            stalled = stalled + 1 if loss > (1 - self.stall_gain) * start_loss else 0

    def _doubt_pairing(
        self, cfg: Config, loss: float, ev: Evaluator, pairing: Pairing, stages: list[StageReport], quick: bool = False,
    ) -> Config:
        """Question the ``doubt`` least confident pairs.

        Every swap of output projections among them is evaluated in place (one batched pass);
        those within ``doubt_ratio`` times ``loss`` get a screened-swap descent, and the best of
        those, where it already beats ``loss``, an iterated search (at most three times the
        patience in steps). The result replaces ``cfg`` only where its loss is lower. ``quick`` (before
        the main search, while the order is still rough and a wrong re-pairing can fit it better):
        only the candidate with the lowest loss in place gets a descent, and replaces ``cfg`` only
        where that reaches the floor (a global optimum: the re-pairing is right).
        """
        t0, e0 = time.perf_counter(), ev.evaluations
        floor = self._floor(ev)
        pos = {int(k): t for t, k in enumerate(cfg.ins.tolist())}
        swaps = list(itertools.combinations(weakest_pairs(pairing, self.doubt), 2))
        if not swaps:  # fewer than two blocks: nothing to swap
            return cfg
        outs = cfg.outs.repeat(len(swaps), 1)
        for row, (a, b) in enumerate(swaps):
            outs[row, [pos[a], pos[b]]] = outs[row, [pos[b], pos[a]]]
        starts = torch.tensor([min(pos[a], pos[b]) for a, b in swaps])
        raw = ev.suffix_losses(cfg.ins.repeat(len(swaps), 1), starts, forward_states(ev, cfg), outs).tolist()
        plausible = [row for row in np.argsort(raw).tolist() if raw[row] < self.doubt_ratio * loss]
        tried = {
            swaps[row]: self._local(ev, Config(cfg.ins.clone(), outs[row].clone()))[:2]
            for row in plausible[: 1 if quick else None]
        }
        details = {"in_place": {f"{a},{b}": r for (a, b), r in zip(swaps, raw)},
                   "descended": {f"{a},{b}": v[1] for (a, b), v in tried.items()}}
        best = min(tried.items(), key=lambda item: item[1][1]) if tried else None
        stages.append(StageReport("doubt", f"{'quick-' if quick else ''}{len(swaps)}-re-pairings@{ev.X.shape[0]}rows",
                                  mse=best[1][1] if best else min(raw), rounds=len(tried),
                                  evaluations=ev.evaluations - e0, seconds=time.perf_counter() - t0, details=details))
        if best is None:
            return cfg
        (a, b), (trial, trial_loss) = best
        if quick:
            return trial if trial_loss <= floor else cfg
        if floor < trial_loss < loss:  # search on only where the re-pairing already pays off
            patience = self._patience(len(cfg.ins))
            trial, trial_loss = self._search(trial, ev, stages, patience, 3 * patience, f"re-paired({a},{b}) ")
        return trial if trial_loss < loss else cfg

    def _seed(self, stack: BlockStack, evs: list[Evaluator]) -> tuple[torch.Tensor, StageReport]:
        """The seed order, ranked on the largest row level; ``auto`` takes whichever direction of
        the delta-norm seed has the lower loss on the first ``screen_rows`` rows."""
        t0 = time.perf_counter()
        if self.seed == "auto":
            ascending = torch.argsort(delta_norm(stack, evs[-1].X), stable=True)
            orders = {"delta-norm": ascending, "delta-norm-reversed": ascending.flip(0)}
        else:
            orders = {self.seed: torch.tensor(seed_order(stack, evs[-1].X, self.seed))}
        probe = evs[0].first_rows(self.screen_rows)
        batch = probe.suffix_losses(torch.stack(list(orders.values())), torch.zeros(len(orders), dtype=torch.long),
                                    probe.X.unsqueeze(0))  # every candidate in one batched pass
        losses = {name: float(loss) for name, loss in zip(orders, batch)}
        chosen = min(losses, key=losses.get)
        report = StageReport("seed", chosen, mse=losses[chosen], seconds=time.perf_counter() - t0,
                             details={"rows": evs[-1].X.shape[0], "candidates": losses, "loss_rows": probe.X.shape[0]})
        return orders[chosen], report

    def solve(self, puzzle: Puzzle) -> SolveResult:
        check_choices(seed=(self.seed, ("auto", *SEEDS)), dtype=(self.dtype, DTYPES))
        t_start = time.perf_counter()
        stages: list[StageReport] = []

        t0 = time.perf_counter()
        pairing = pair_pieces(puzzle, "ddr")
        stack = BlockStack.from_pairs(puzzle, pairing.pairs, DTYPES[self.dtype])
        stages.append(StageReport("pairing", "ddr", seconds=time.perf_counter() - t0, details={"gap": pairing.gap}))

        levels = [self.rows] if isinstance(self.rows, int) else list(self.rows)
        evs = [Evaluator.for_puzzle(puzzle, stack, n, self.random_state) for n in levels]  # nested row sets
        order, seed_report = self._seed(stack, evs)
        stages.append(seed_report)

        full = Evaluator.for_puzzle(puzzle, stack)
        searching = self.search_steps > 0  # the iterated search (on the first level) takes over from a stall
        best = self._descend(Config(order.clone(), order.clone()), evs, full, stages, "screened-swaps", stop_on_stall=searching)
        if best.certificate["kind"] != "zero-loss" and searching:
            cfg = best.cfg
            if self.doubt > 1:  # a pairing error the first descent can already expose (depth 32)
                cfg = self._doubt_pairing(cfg, best.loss, evs[0], pairing, stages, quick=True)
            cfg, loss = self._search(cfg, evs[0], stages)
            if loss > self._floor(evs[0]) and self.doubt > 1:
                cfg = self._doubt_pairing(cfg, loss, evs[0], pairing, stages)
            best = self._descend(cfg, evs, full, stages, "after-iterated-search")
        if best.certificate["kind"] != "zero-loss":  # polish and certify: exact neighbourhood, re-pairings
            best = self._descend(best.cfg, evs[-1:], full, stages, "certify", repairing_candidates(pairing, self.repair_top))
            if math.isnan(best.full):
                best.full = config_loss(full, best.cfg)

        blocks = tuple((stack.pairs[i][0], stack.pairs[o][1]) for i, o in zip(best.cfg.ins.tolist(), best.cfg.outs.tolist()))
        certificate = {**best.certificate, "rows": evs[-1].X.shape[0], "final_mse_all_rows": best.full,
                       "all_rows": puzzle.n_rows}
        return SolveResult(
            permutation=Assembly(blocks, puzzle.roles.last).permutation(),
            stages=stages,
            seconds=time.perf_counter() - t_start,
            certificate=certificate,
        )
