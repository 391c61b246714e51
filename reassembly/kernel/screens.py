"""First-order screens: the output change of local moves, predicted from one forward and one
backward pass, so that many moves can be ranked before a few are evaluated exactly.

Each move changes some blocks' branches at known states; the change of the output is, to first
order, each branch change carried to the output by the Jacobian of the state after it (``J``,
:meth:`~reassembly.kernel.evaluator.Evaluator.jacobians`). Predicted losses are
``mean(weigh(resid + Δy)²)``, exact in the branch changes and linear only in how they propagate.
"""

from __future__ import annotations

import torch

from reassembly.kernel.evaluator import Evaluator


def branches(ev: Evaluator, idx: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """Branch outputs of the blocks ``idx`` ``(B, S)`` applied to states ``h`` ``(B, n, d)``."""
    return ev.family.branch(ev.stack.gather(idx), h)


def carry(J: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """Output change ``(..., n, o)`` of state changes ``delta`` ``(..., n, d)`` under ``J`` ``(..., n, o, d)``."""
    return torch.einsum("...nod,...nd->...no", J, delta)


def predicted_losses(ev: Evaluator, states: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
    """``mean(weigh(resid + dy)²)`` per leading entry of ``dy`` ``(B, n, o)``."""
    resid = ev.output(states[-1]) - ev.target
    return ev.weigh(resid + dy).pow(2).mean(dim=(-2, -1))


def swap_effects(
    ev: Evaluator,
    arr: torch.Tensor,
    states: torch.Tensor,
    cached: torch.Tensor | None = None,
    positions: list[int] | None = None,
) -> torch.Tensor:
    """``delta[p]``: change of the state after position ``p + 1`` when positions ``p`` and ``p + 1``
    swap. With ``cached``, only ``positions`` are recomputed (the others keep effects measured at
    slightly older states, close enough to screen with)."""
    D = arr.shape[0]
    if cached is None or positions is None:
        idx = torch.arange(D - 1)
        delta = torch.empty(D - 1, *states.shape[1:], dtype=states.dtype)
    else:
        idx = torch.tensor(sorted({p for p in positions if 0 <= p < D - 1}), dtype=torch.long)
        delta = cached
        if idx.numel() == 0:
            return delta
    block, gather = ev.family.block, ev.stack.gather
    first = block(gather(arr[idx + 1]), states[idx])
    delta[idx] = block(gather(arr[idx]), first).sub_(states[idx + 2])
    return delta


def predict_swaps(ev: Evaluator, states: torch.Tensor, J: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """Predicted loss after swapping positions ``p`` and ``p + 1``, for every ``p``."""
    return predicted_losses(ev, states, carry(J[2:], delta))


def insertion_effect(
    ev: Evaluator, arr: torch.Tensor, states: torch.Tensor, J: torch.Tensor, k: int, ts: torch.Tensor | None = None
) -> torch.Tensor:
    """Output change ``(len(ts), n, o)`` of moving position ``k`` to just before each position in
    ``ts`` (``None``: every position ``0..D``): the branch added at the new place minus the one
    removed at the old."""
    at = states if ts is None else states[ts]
    added = carry(J if ts is None else J[ts], branches(ev, arr[k].expand(len(at), -1), at))
    own = branches(ev, arr[k : k + 1], states[k : k + 1])[0]
    return added.sub_(carry(J[k + 1], own))


def predict_insertions(ev: Evaluator, arr: torch.Tensor, states: torch.Tensor | None = None) -> torch.Tensor:
    """Predicted loss ``(D, D + 1)`` of moving position ``k`` to just before position ``t``;
    ``inf`` where the move changes nothing (``t`` in ``{k, k + 1}``)."""
    D = arr.shape[0]
    states = ev.states(arr) if states is None else states
    J = ev.jacobians(arr, states)
    resid = ev.output(states[-1]) - ev.target
    predicted = torch.full((D, D + 1), float("inf"), dtype=states.dtype)
    for k in range(D):
        loss = ev.weigh(resid + insertion_effect(ev, arr, states, J, k)).pow(2).mean(dim=(1, 2))
        loss[k] = loss[k + 1] = float("inf")
        predicted[k] = loss
    return predicted


def receive_effects(
    ev: Evaluator, arr: torch.Tensor, states: torch.Tensor, J: torch.Tensor, s: int, t: int
) -> torch.Tensor:
    """``A[p, q]`` ``(D, D, n, o)``: output change when position ``p`` takes, in slot ``s``, the piece
    that position ``q`` holds in slot ``t`` (each position's other slots unchanged)."""
    D = arr.shape[0]
    before = branches(ev, arr, states[:-1])
    out = torch.empty(D, D, *ev.target.shape, dtype=states.dtype)
    for p in range(D):
        cand = arr[p].repeat(D, 1)
        cand[:, s] = arr[:, t]
        out[p] = carry(J[p + 1], branches(ev, cand, states[p].expand(D, -1, -1)) - before[p])
    return out


def predict_exchanges(
    ev: Evaluator, arr: torch.Tensor, states: torch.Tensor, J: torch.Tensor, s: int, t: int
) -> torch.Tensor:
    """Predicted loss ``(D, D)`` of exchanging the piece in slot ``s`` of position ``p`` with the
    piece in slot ``t`` of position ``q``. Where ``s != t`` the diagonal is the exchange of the two
    slots within one block; where ``s == t`` it is ``inf`` (no move)."""
    D = arr.shape[0]
    a = receive_effects(ev, arr, states, J, s, t)
    b = a if s == t else receive_effects(ev, arr, states, J, t, s)
    dy = a + b.transpose(0, 1)
    if s != t:  # within one block both slots change in the same branch: evaluate that branch directly
        swapped = arr.clone()
        swapped[:, [s, t]] = arr[:, [t, s]]
        diag = carry(J[1:], branches(ev, swapped, states[:-1]) - branches(ev, arr, states[:-1]))
        dy[torch.arange(D), torch.arange(D)] = diag
    losses = predicted_losses(ev, states, dy.flatten(0, 1)).view(D, D)
    if s == t:
        losses.fill_diagonal_(float("inf"))
    return losses
