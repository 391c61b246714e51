"""Small ReLU networks ``x -> W2 relu(W1 x + b1) + b2`` (or with more hidden layers: ``W1, b1, ...,
W{L+1}, b{L+1}``) as parameter dicts, their isomorphisms and
the canonical form black-box reconstructions are compared in ("Sequencing the Neurome", §3.3).

The isomorphisms of one hidden layer of ReLU units are a permutation of the units and a positive
factor per unit (``relu(s z) = s relu(z)`` for ``s > 0``: the unit's incoming weights and bias
times ``s``, its outgoing weights over ``s``). The canonical form removes both: each unit's
incoming vector ``(W1[i], b1[i])`` is scaled to unit length (its outgoing weights take the
factor), and the units are sorted by their canonical bias; with more hidden layers, layer by layer. (The paper's polarity step is for odd
activations and does not apply to ReLU.) Two networks are compared after putting the candidate's
units in the truth's order by the best matching of their canonical incoming vectors, which agrees
with sorting wherever sorting is unambiguous and is not thrown off by near-ties.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

import torch

from reassembly.errors import PermutationError

NAMES = ("W1", "b1", "W2", "b2")
Params = dict[str, torch.Tensor]


def names(layers: int = 1) -> tuple[str, ...]:
    """Parameter names of a network of ``layers`` hidden layers: ``W1, b1, ..., W{layers+1}, b{layers+1}``."""
    return tuple(f"{kind}{k}" for k in range(1, layers + 2) for kind in ("W", "b"))


def depth(p: Mapping[str, torch.Tensor]) -> int:
    """Hidden layers of the parameters ``p``."""
    return len(p) // 2 - 1


def shapes(d: int, h: int, o: int, layers: int = 1) -> dict[str, tuple[int, ...]]:
    widths = [d] + [h] * layers + [o]
    return {
        n: s
        for k in range(layers + 1)
        for n, s in ((f"W{k + 1}", (widths[k + 1], widths[k])), (f"b{k + 1}", (widths[k + 1],)))
    }


def forward(p: Mapping[str, torch.Tensor], X: torch.Tensor) -> torch.Tensor:
    """Outputs ``(n, o)`` in float64."""
    out, last = X.double(), depth(p) + 1
    for k in range(1, last + 1):
        out = out @ p[f"W{k}"].double().T + p[f"b{k}"].double()
        out = torch.relu(out) if k < last else out
    return out


def check_params(data: Any, d: int, h: int, o: int, what: str = "the answer", layers: int = 1) -> Params:
    """Parameters of a ``d``-``h``-...-``o`` network (``layers`` hidden layers of ``h`` units) as
    float64 tensors, or :class:`PermutationError`."""
    expected = names(layers)
    if not isinstance(data, Mapping) or set(data) != set(expected):
        raise PermutationError(f"{what} must hold exactly {', '.join(expected)}")
    out = {}
    for name, shape in shapes(d, h, o, layers).items():
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
    """The canonical form: layer by layer, unit-length incoming vectors (the next layer's weights
    scaled to match), units sorted by canonical bias (descending)."""
    out = {n: t.double().clone() for n, t in p.items()}
    for k in range(1, depth(p) + 1):
        W, b, after = out[f"W{k}"], out[f"b{k}"], out[f"W{k + 1}"]
        norm = torch.cat([W, b[:, None]], 1).norm(dim=1)
        scale = torch.where(norm > 0, norm, torch.ones_like(norm))
        W, b, after = W / scale[:, None], b / scale, after * scale[None, :]
        order = torch.argsort(b, descending=True, stable=True)
        out[f"W{k}"], out[f"b{k}"], out[f"W{k + 1}"] = W[order], b[order], after[:, order]
    return out


def aligned(truth: Params, candidate: Params) -> Params:
    """``candidate`` (canonical) with each layer's units in the order that best matches ``truth``'s
    (canonical), layer by layer (a layer's incoming vectors compared after the previous layer's order)."""
    from scipy.optimize import linear_sum_assignment

    out = dict(candidate)
    for k in range(1, depth(truth) + 1):
        a = torch.cat([truth[f"W{k}"], truth[f"b{k}"][:, None]], 1)
        b = torch.cat([out[f"W{k}"], out[f"b{k}"][:, None]], 1)
        rows, cols = linear_sum_assignment(torch.cdist(a, b).numpy())
        perm = torch.as_tensor(cols)[torch.argsort(torch.as_tensor(rows))]
        out[f"W{k}"], out[f"b{k}"], out[f"W{k + 1}"] = out[f"W{k}"][perm], out[f"b{k}"][perm], out[f"W{k + 1}"][:, perm]
    return out


def parameter_errors(truth: Mapping[str, torch.Tensor], candidate: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """Largest and mean absolute parameter difference after canonicalising both networks."""
    t = canonical(truth)
    c = aligned(t, canonical(candidate))
    diffs = torch.cat([(t[n] - c[n]).abs().flatten() for n in t])
    return {"max_error": float(diffs.max()), "mean_error": float(diffs.mean())}


def output_error(truth: Mapping[str, torch.Tensor], candidate: Mapping[str, torch.Tensor], X: torch.Tensor) -> float:
    """Mean squared output difference on ``X`` over the variance of the true outputs."""
    y, z = forward(truth, X), forward(candidate, X)
    return float((y - z).pow(2).mean() / y.var().clamp_min(1e-300)) if len(X) > 1 else math.nan
