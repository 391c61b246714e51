"""The paper's ranking: pairwise swap deltas from a seed order, then a margin-weighted Bradley–Terry fit."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from reassembly.kernel import Evaluator


def swap_deltas(ev: Evaluator, arr: torch.Tensor) -> torch.Tensor:
    """``delta[a, b]``: loss after swapping the blocks at positions ``a`` and ``b`` of ``arr`` minus
    the loss of ``arr`` (indexed by position in the seed; symmetric). Swaps that share their first
    position run as one batch from the cached prefix state."""
    D = arr.shape[0]
    states = ev.states(arr)
    base = ev.loss(states[-1])
    delta = torch.zeros(D, D, dtype=torch.float64)
    for p in range(D - 1):
        qs = torch.arange(p + 1, D)
        cands = arr.repeat(len(qs), 1, 1)
        rows = torch.arange(len(qs))
        cands[rows, p] = arr[qs]
        cands[rows, qs] = arr[p]
        losses = (ev.suffix_losses(cands, torch.full((len(qs),), p), states) - base).double()
        delta[p, qs] = losses
        delta[qs, p] = losses
    return delta


@dataclass(frozen=True)
class BradleyTerryFit:
    strengths: torch.Tensor
    iterations: int
    temperature: float


def soft_wins(delta: torch.Tensor, temperature: float) -> torch.Tensor:
    """``wins[a, b]``: probability that seed position ``a`` precedes ``b``: ``sigmoid(delta / T)`` where
    ``a`` comes first in the seed (a swap that hurts says the seed had it right)."""
    D = delta.shape[0]
    earlier = torch.arange(D)[:, None] < torch.arange(D)[None, :]
    p_first = torch.sigmoid(delta / temperature)
    wins = torch.where(earlier, p_first, 1 - p_first)
    wins.fill_diagonal_(0)
    return wins


def bradley_terry(wins: torch.Tensor, max_iter: int = 10_000, tol: float = 1e-6) -> tuple[torch.Tensor, int]:
    """Hunter's MM algorithm for Bradley–Terry strengths from a (soft) win matrix; strengths have
    geometric mean 1. Stops when no log-strength moves by more than ``tol``."""
    D = wins.shape[0]
    games = wins + wins.T
    total_wins = wins.sum(dim=1).clamp_min(1e-12)
    pi = torch.ones(D, dtype=torch.float64)
    for it in range(1, max_iter + 1):
        new = total_wins / (games / (pi[:, None] + pi[None, :])).sum(dim=1)
        new = new / new.log().mean().exp()
        change = (new.log() - pi.log()).abs().max()
        pi = new
        if change < tol:
            return pi, it
    return pi, max_iter


def bradley_terry_order(delta: torch.Tensor, temperature: float | None = None) -> tuple[torch.Tensor, BradleyTerryFit]:
    """Seed positions ordered by descending Bradley–Terry strength fitted to the swap deltas."""
    D = delta.shape[0]
    off = delta[~torch.eye(D, dtype=torch.bool)].abs()
    T = float(temperature) if temperature else float(off.median().clamp_min(1e-12))
    strengths, iters = bradley_terry(soft_wins(delta, T))
    return torch.argsort(-strengths, stable=True), BradleyTerryFit(strengths, iters, T)


def bubble_repair(ev: Evaluator, arr: torch.Tensor, max_rounds: int = 500) -> tuple[torch.Tensor, list[dict]]:
    """The paper's bubble repair: sweep the adjacent pairs left to right, keeping a swap where it
    lowers the loss, until a whole sweep keeps none. Each trial reruns the suffix from the cached
    prefix state. Returns the order and the per-round log (round 0: the start)."""
    arr = arr.clone()
    states = ev.states(arr)
    spare = torch.empty_like(states)
    loss = float(ev.loss(states[-1]))
    log = [{"round": 0, "swaps": 0, "mse": loss}]
    for rnd in range(1, max_rounds + 1):
        swaps = 0
        for p in range(arr.shape[0] - 1):
            trial = arr.clone()
            trial[[p, p + 1]] = trial[[p + 1, p]]
            trial_states = ev.states(trial, states, p, out=spare)
            new = float(ev.loss(trial_states[-1]))
            if new < loss:
                arr, loss, swaps = trial, new, swaps + 1
                states, spare = trial_states, states
        log.append({"round": rnd, "swaps": swaps, "mse": loss})
        if swaps == 0:
            break
    return arr, log
