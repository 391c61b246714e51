"""Ranking: pairwise swap deltas from a seed order, then a margin-weighted Bradley–Terry fit."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from reassembly.network import Evaluator


def swap_deltas(evaluator: Evaluator, order: list[int]) -> torch.Tensor:
    """``delta[a, b]`` = MSE after swapping blocks ``a`` and ``b`` in ``order`` minus MSE of ``order``.

    Antisymmetric in meaning: the entry is filled for both ``(a, b)`` and ``(b, a)`` with the same
    value. Swaps sharing their first position run as one batch from the cached prefix state.
    """
    D = len(order)
    base = torch.tensor(order, dtype=torch.long)
    states = evaluator.states(order)
    base_loss = evaluator.loss(states[-1])
    delta = torch.zeros(D, D, dtype=torch.float64)
    for p in range(D - 1):
        qs = torch.arange(p + 1, D)
        orders = base.repeat(len(qs), 1)
        orders[torch.arange(len(qs)), p] = base[qs]
        orders[torch.arange(len(qs)), qs] = base[p]
        losses = evaluator.suffix_losses(orders, torch.full((len(qs),), p), states) - base_loss
        a, b = base[p], base[qs]
        delta[a, b] = losses.double()
        delta[b, a] = losses.double()
    return delta


@dataclass(frozen=True)
class BradleyTerryFit:
    strengths: torch.Tensor
    iterations: int
    temperature: float


def soft_wins(delta: torch.Tensor, order: list[int], temperature: float) -> torch.Tensor:
    """``wins[a, b]`` = probability that ``a`` precedes ``b``: ``sigmoid(delta / T)`` for ``a`` before ``b`` in ``order``."""
    D = len(order)
    pos = torch.empty(D, dtype=torch.long)
    pos[torch.tensor(order)] = torch.arange(D)
    earlier = pos[:, None] < pos[None, :]
    p_first = torch.sigmoid(delta / temperature)  # a before b in the seed, swap hurts -> a wins
    wins = torch.where(earlier, p_first, 1 - p_first)
    wins.fill_diagonal_(0)
    return wins


def bradley_terry(wins: torch.Tensor, max_iter: int = 10_000, tol: float = 1e-6) -> tuple[torch.Tensor, int]:
    """Hunter's MM algorithm for Bradley–Terry strengths from a (soft) win matrix ``wins[a, b]``.

    Returns strengths (geometric mean 1) and the iterations used; stops when no log-strength
    moves by more than ``tol``.
    """
    D = wins.shape[0]
    games = wins + wins.T
    total_wins = wins.sum(dim=1).clamp_min(1e-12)
    pi = torch.ones(D, dtype=torch.float64)
    for it in range(1, max_iter + 1):
        denom = (games / (pi[:, None] + pi[None, :])).sum(dim=1)
        new = total_wins / denom
        new = new / new.log().mean().exp()
        change = (new.log() - pi.log()).abs().max()
        pi = new
        if change < tol:
            return pi, it
    return pi, max_iter


def bradley_terry_order(delta: torch.Tensor, seed: list[int], temperature: float | None = None, tol: float = 1e-6) -> tuple[list[int], BradleyTerryFit]:
    """Order blocks by descending Bradley–Terry strength fitted to the swap deltas around ``seed``."""
    off = delta[~torch.eye(len(seed), dtype=torch.bool)].abs()
    T = float(temperature) if temperature else float(off.median().clamp_min(1e-12))
    strengths, iters = bradley_terry(soft_wins(delta, seed, T), tol=tol)
    order = [int(i) for i in torch.argsort(-strengths, stable=True)]
    return order, BradleyTerryFit(strengths=strengths, iterations=iters, temperature=T)
