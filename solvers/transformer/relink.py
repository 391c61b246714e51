"""Linking components into layers from data: a relaxed fit of which attention components and norm
gains go with which position, the MLP order held.

Circuits pair the pieces of each component (Q with K, V with O, an MLP's projections); which
components form one layer, and which norm gains go where, only the data can say, and an exact
search from a wrong linking stalls at depth (a wrong early layer hides every later choice). So,
as ``fast``'s relink does for write pieces: every position's norm gains, attention pattern and
value/output path are *mixtures* of all candidates (:meth:`~reassembly.families.base.BlockFamily.
mixed_layer`: a gain enters linearly; patterns and value paths are averaged with weights), which
is still a differentiable network and equals the true one at the true one-hot weights. The fit
starts where every candidate is equally likely at every position (it owes nothing to the current
linking), runs L-BFGS on the exact loss with the MLP components in their current order, and is
rounded to a linking by the Hungarian algorithm, one kind (or pool of gains) at a time.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from scipy.optimize import linear_sum_assignment

from reassembly.families.base import Mixture, SlotParams
from reassembly.kernel import Evaluator
from reassembly.params import Configurable, Interval
from solvers.transformer.moves import Groups

#: L-BFGS steps between two looks at the clock.
STEPS_BETWEEN_CHECKS = 5


def _kind_name(ev: Evaluator, cols: tuple[int, ...]) -> str:
    return "".join(ev.stack.slots[c] for c in sorted(cols))


def mixed_kinds(ev: Evaluator, groups: Groups) -> list[tuple[int, ...]]:
    """The component kinds the family's relaxed layer mixes (the others keep their order)."""
    return [k for k in groups.kinds if _kind_name(ev, k) in ev.family.mixed_kinds]


def relaxes_gains(ev: Evaluator, groups: Groups) -> bool:
    """Whether the family has a relaxed layer and the arrangement pools norm gains: what the stages
    that fit mixtures of the gains need.

    Parameters
    ----------
    ev
        The search's evaluator.
    groups
        The arrangement's column groups.
    """
    return bool(groups.singles) and bool(mixed_kinds(ev, groups))


class GainsFit(Configurable):
    """Base of the stages that fit mixtures of the norm gains and have a ``steps`` option (0: off)."""

    steps: int

    def applies(self, ev: Evaluator, groups: Groups) -> bool:
        """Whether the stage is on, the family has a relaxed layer and the arrangement pools gains.

        Parameters
        ----------
        ev
            The search's evaluator.
        groups
            The arrangement's column groups.
        """
        return self.steps > 0 and relaxes_gains(ev, groups)


def _grad_factor() -> float:
    """The work of a forward relative to a plain one: 3 where its backward pass follows."""
    return 3.0 if torch.is_grad_enabled() else 1.0


def relaxed_output(
    ev: Evaluator, arr: torch.Tensor, groups: Groups, kinds: list[tuple[int, ...]], free: list[torch.Tensor]
) -> torch.Tensor:
    """Output of ``arr`` with every position's mixed kinds and norm gains relaxed to the weights in
    ``free`` (offsets from the uniform mixture): one ``(D, D)`` per kind, then one ``(D, G)`` per
    norm slot of ``groups.singles[0]`` over that pool's ``G`` gains."""
    stack, fam, D = ev.stack, ev.family, arr.shape[0]
    parts = {
        _kind_name(ev, k): tuple(stack.tensors[stack.slots[c]].weight[arr[:, c]] for c in sorted(k)) for k in kinds
    }
    norm_cols = groups.singles[0]
    pool = stack.tensors[stack.slots[norm_cols[0]]].weight
    G = pool.shape[0]
    kfree, gfree = free[: len(kinds)], free[len(kinds) :]
    if not gfree:  # the gains stay where they are: one-hot weights
        gfree = [torch.nn.functional.one_hot(arr[:, c], G).to(pool.dtype) - 1.0 / G for c in norm_cols]
    if not kinds:  # only the gains mixed: an ordinary layer with mixed gains (they enter linearly)
        return ev.output(mixed_gains_forward(ev, arr, groups, gfree))
    h = ev.X
    for p in range(D):
        mix = Mixture(
            parts,
            {_kind_name(ev, k): kfree[i][p] + 1.0 / D for i, k in enumerate(kinds)},
            pool,
            tuple(g[p] + 1.0 / G for g in gfree),
        )
        h = fam.mixed_layer(stack.at(arr[p].tolist()), h, mix)
        ev.charge(1, math.prod(h.shape[:-1]) + D * len(kinds), _grad_factor())  # mixing: D weights a kind
    return ev.output(h)


def mixed_gains_forward(
    ev: Evaluator,
    arr: torch.Tensor,
    groups: Groups,
    weights: list[torch.Tensor],
    start: int = 0,
    h: torch.Tensor | None = None,
) -> torch.Tensor:
    """The residual state after the last position of ``arr`` with every norm slot's gain the
    mixture ``weights`` says (one ``(D, G)`` per norm slot of ``groups.singles[0]``, offsets from
    the uniform mixture over that pool's ``G`` gains), from position ``start`` with state ``h``
    (the rows' input where ``start`` is 0).

    Parameters
    ----------
    ev
        The evaluator whose stack and rows are used.
    arr
        The arrangement (its norm columns are ignored).
    groups
        Its column groups.
    weights
        The mixture weights.
    start, h
        Where the forward begins and the state there.
    """
    stack, fam = ev.stack, ev.family
    norm_cols = groups.singles[0]
    pool = stack.tensors[stack.slots[norm_cols[0]]].weight
    G = pool.shape[0]
    h = ev.X if h is None else h
    for p in range(start, arr.shape[0]):
        params = dict(stack.at(arr[p].tolist()))
        for c, w in zip(norm_cols, weights):
            params[stack.slots[c]] = SlotParams((w[p] + 1.0 / G) @ pool)
        h = fam.layer(params, h)
        ev.charge(1, math.prod(h.shape[:-1]), _grad_factor())
    return h


def round_gains(arr: torch.Tensor, groups: Groups, weights: list[torch.Tensor]) -> torch.Tensor:
    """``arr`` with its norm gains placed where the mixture ``weights`` (as in
    :func:`mixed_gains_forward`) is heaviest: the Hungarian algorithm over every norm slot at once.

    Parameters
    ----------
    arr
        The arrangement (a copy is returned).
    groups
        Its column groups.
    weights
        One ``(D, G)`` per norm slot of ``groups.singles[0]``.
    """
    D, norm_cols = arr.shape[0], groups.singles[0]
    rows, cols = linear_sum_assignment(torch.cat([w.detach() for w in weights]).numpy(), maximize=True)
    new = arr.clone()
    for r, c in zip(rows, cols):
        new[r % D, norm_cols[r // D]] = int(c)
    return new


def relaxed_linking(
    ev: Evaluator,
    arr: torch.Tensor,
    groups: Groups,
    iterations: int,
    kinds: bool = True,
    gains: bool = True,
    stop: Callable[[], bool] = lambda: False,
) -> tuple[torch.Tensor, float]:
    """The linking the relaxed fit prefers, rounded (see the module docstring), and the fit's
    final relaxed loss. The MLP components (the kinds not mixed) keep their positions.

    Parameters
    ----------
    ev
        Evaluates on the fit's rows.
    arr
        The current arrangement (only its unmixed kinds' order is used).
    groups
        Its column groups.
    iterations
        Most L-BFGS steps.
    kinds
        Relax the attention components (else they keep their positions).
    gains
        Relax the norm gains (else they keep their positions).
    stop
        Checked every few steps: ``True`` ends the fit early.
    """
    D = arr.shape[0]
    kinds = mixed_kinds(ev, groups) if kinds else []
    norm_cols = groups.singles[0]
    G = ev.stack.tensors[ev.stack.slots[norm_cols[0]]].weight.shape[0]
    dtype = ev.X.dtype
    free = [torch.zeros(D, D, dtype=dtype, requires_grad=True) for _ in kinds]
    if gains:
        free += [torch.zeros(D, G, dtype=dtype, requires_grad=True) for _ in norm_cols]
    chunk = min(iterations, STEPS_BETWEEN_CHECKS)
    opt = torch.optim.LBFGS(free, lr=1, max_iter=chunk, history_size=20, line_search_fn="strong_wolfe")
    last = [float("nan")]

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = (relaxed_output(ev, arr, groups, kinds, free) - ev.target).pow(2).mean()
        loss.backward()
        ev.evaluations += 1
        last[0] = float(loss.detach())
        return loss

    with torch.enable_grad():
        for _ in range(0, iterations, chunk):
            opt.step(closure)
            if stop():
                break
    new = arr.clone()
    for k, f in zip(kinds, free):
        _, cols = linear_sum_assignment(f.detach().numpy(), maximize=True)
        for c in k:
            new[:, c] = arr[torch.as_tensor(cols), c]
    if not gains:
        return new, last[0]
    return round_gains(new, groups, free[len(kinds) :]), last[0]


class Relink(Configurable):
    """Link from data before the search (see the module docstring).

    First the order of the components the relaxed layer does not mix (the MLPs, with the
    components the start linked to them: ``groups.chain``) is read in both directions of its
    seriation path, and the direction whose *gains-only* fit explains the rows
    better is kept: with the norm gains free, the fit marginalises over where they go instead of
    judging a direction by one arbitrary placement of them (the cheap fit: the network stays an
    ordinary one, with mixed gains). Then, where ``components`` is set, the attention components
    and gains are fitted together and rounded.

    Parameters
    ----------
    iterations
        Most L-BFGS steps of each fit (100 is enough to converge); 0 turns the stage off, the
        default since the start links the writing kinds by their weights: on held-out 12-layer
        SmolLM2 (seeds 100–102) the search was exact on 2 of 3 without the stage and on none with
        it, which raised the start's exact loss (docs/real-networks.md).
    components
        Also fit the attention components (each position mixes every candidate: a forward costs
        about as many layers as there are positions, so it is off by default at depth).
    """

    constraints = {"iterations": Interval(0, None)}

    def __init__(self, iterations: int = 0, components: bool = False) -> None:
        self.iterations = iterations
        self.components = components

    def applies(self, ev: Evaluator, groups: Groups) -> bool:
        """Whether the puzzle's family has a relaxed layer and the arrangement pools of gains."""
        return self.iterations > 0 and relaxes_gains(ev, groups)

    def run(
        self, ev: Evaluator, arr: torch.Tensor, groups: Groups, stop: Callable[[], bool] = lambda: False
    ) -> tuple[torch.Tensor, dict]:
        """The arrangement after the stage and what it measured (relaxed loss of each direction).

        Parameters
        ----------
        ev
            Evaluates on the fits' rows.
        arr
            The start (its unmixed kinds in seriation order).
        groups
            Its column groups.
        stop
            Checked every few L-BFGS steps.
        """
        fixed = list(groups.chain) or [c for k in groups.kinds if k not in mixed_kinds(ev, groups) for c in k]
        tried = []
        for flip in (False, True):
            a = arr.clone()
            if flip:
                a[:, fixed] = arr.flip(0)[:, fixed]
            a, loss = relaxed_linking(ev, a, groups, self.iterations, kinds=False, stop=stop)
            tried.append((loss, flip, a))
        loss, flip, arr = min(tried, key=lambda t: t[0])
        details = {"direction_losses": [t[0] for t in tried], "reversed": flip}
        if self.components and not stop():
            arr, details["components_loss"] = relaxed_linking(ev, arr, groups, self.iterations, stop=stop)
        return arr, details
