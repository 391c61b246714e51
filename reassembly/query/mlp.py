"""Small ReLU networks ``x -> W2 relu(W1 x + b1) + b2`` as parameter dicts, their isomorphisms and
the canonical form black-box reconstructions are compared in ("Sequencing the Neurome", §3.3).

The isomorphisms of one hidden layer of ReLU units are a permutation of the units and a positive
factor per unit (``relu(s z) = s relu(z)`` for ``s > 0``: the unit's incoming weights and bias
times ``s``, its outgoing weights over ``s``). The canonical form removes both: each unit's
incoming vector ``(W1[i], b1[i])`` is scaled to unit length (its outgoing weights take the
factor), and the units are sorted by their canonical bias. (The paper's polarity step is for odd
activations and does not apply to ReLU.) Two networks are compared after putting the candidate's
units in the truth's order by the best matching of their canonical incoming vectors, which agrees
with sorting wherever sorting is unambiguous and is not thrown off by near-ties.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Mapping

import torch

from reassembly.errors import PermutationError

NAMES = ("W1", "b1", "W2", "b2")
Params = dict[str, torch.Tensor]


def shapes(d: int, h: int, o: int) -> dict[str, tuple[int, ...]]:
    return {"W1": (h, d), "b1": (h,), "W2": (o, h), "b2": (o,)}


def forward(p: Mapping[str, torch.Tensor], X: torch.Tensor) -> torch.Tensor:
    """Outputs ``(n, o)`` in float64."""
    hidden = torch.relu(X.double() @ p["W1"].double().T + p["b1"].double())
    return hidden @ p["W2"].double().T + p["b2"].double()


def check_params(data: Any, d: int, h: int, o: int, what: str = "the answer") -> Params:
    """Parameters of a ``d``-``h``-``o`` network as float64 tensors, or :class:`PermutationError`."""
    if not isinstance(data, Mapping) or set(data) != set(NAMES):
        raise PermutationError(f"{what} must hold exactly {', '.join(NAMES)}")
    out = {}
    for name, shape in shapes(d, h, o).items():
        value = data[name]
        if isinstance(value, (list, tuple)) and _has_non_number(value):
            raise PermutationError(f"{what}: {name} holds something that is not a number")
        try:
            t = torch.as_tensor(value, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError):
            raise PermutationError(f"{what}: {name} is not an array of numbers") from None
        if tuple(t.shape) != shape or not bool(torch.isfinite(t).all()):
            raise PermutationError(f"{what}: {name} must be a finite array of shape {shape}, got {tuple(t.shape)}")
        out[name] = t
    return out


def _has_non_number(values: Any) -> bool:
    for v in values:
        if isinstance(v, (list, tuple)):
            if _has_non_number(v):
                return True
        elif isinstance(v, bool) or not isinstance(v, numbers.Real):
            return True
    return False


def canonical(p: Mapping[str, torch.Tensor]) -> Params:
    """The canonical form: unit-length incoming vectors, outgoing weights scaled to match, units
    sorted by canonical bias (descending)."""
    W1, b1, W2, b2 = (p[n].double() for n in NAMES)
    norm = torch.cat([W1, b1[:, None]], 1).norm(dim=1)
    scale = torch.where(norm > 0, norm, torch.ones_like(norm))
    W1, b1, W2 = W1 / scale[:, None], b1 / scale, W2 * scale[None, :]
    order = torch.argsort(b1, descending=True, stable=True)
    return {"W1": W1[order], "b1": b1[order], "W2": W2[:, order], "b2": b2.clone()}


def aligned(truth: Params, candidate: Params) -> Params:
    """``candidate`` (canonical) with its units in the order that best matches ``truth``'s (canonical)."""
    from scipy.optimize import linear_sum_assignment

    a = torch.cat([truth["W1"], truth["b1"][:, None]], 1)
    b = torch.cat([candidate["W1"], candidate["b1"][:, None]], 1)
    rows, cols = linear_sum_assignment(torch.cdist(a, b).numpy())
    perm = torch.as_tensor(cols)[torch.argsort(torch.as_tensor(rows))]
    return {"W1": candidate["W1"][perm], "b1": candidate["b1"][perm], "W2": candidate["W2"][:, perm], "b2": candidate["b2"]}


def parameter_errors(truth: Mapping[str, torch.Tensor], candidate: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """Largest and mean absolute parameter difference after canonicalising both networks."""
    t = canonical(truth)
    c = aligned(t, canonical(candidate))
    diffs = torch.cat([(t[n] - c[n]).abs().flatten() for n in NAMES])
    return {"max_error": float(diffs.max()), "mean_error": float(diffs.mean())}


def output_error(truth: Mapping[str, torch.Tensor], candidate: Mapping[str, torch.Tensor], X: torch.Tensor) -> float:
    """Mean squared output difference on ``X`` over the variance of the true outputs."""
    y, z = forward(truth, X), forward(candidate, X)
    return float((y - z).pow(2).mean() / y.var().clamp_min(1e-300)) if len(X) > 1 else math.nan
