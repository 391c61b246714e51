"""Similarity views of ours: each tensor of a layer (a weight with its bias) compared unit to unit
in two ways that treat entries the copy holds at exactly zero as missing (magnitude pruning zeroes
them; the entries it keeps are the reference's own values):

* ``masked_cosine``: the cosine on the copy unit's support (blind to a positive rescaling);
* ``masked_distance``: minus the squared distance on that support over the two squared norms
  there (sees magnitudes: a pruned unit's surviving entries, or its bias, match exactly).

Views are put on a common scale (:func:`~solvers.resync.similarity.standardise`) and added with
weights from their own evidence: each view's weight is the median standardised score of the pairs
the current matching makes (a linear discriminant: weight by separation), iterated a few times.
"""
from __future__ import annotations

import torch

from solvers.resync.similarity import match, standardise

TINY = 1e-200


def _parts(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``a·b``, ``|a|²`` on ``b``'s support and ``|b|²`` for every reference row ``a`` and copy row ``b``."""
    support = (b != 0).to(a.dtype)
    return a @ b.T, (a * a) @ support.T, (b * b).sum(1)[None, :]


def masked_cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    dot, a2, b2 = _parts(a, b)
    return torch.nan_to_num(dot / (a2 * b2).sqrt().clamp_min(TINY))


def masked_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    dot, a2, b2 = _parts(a, b)
    return -(b2 - 2 * dot + a2) / (b2 + a2).clamp_min(TINY)


VIEWS = {"cosine": masked_cosine, "distance": masked_distance}


def combine(views: list[torch.Tensor], passes: int = 3, rule: str = "hungarian") -> tuple[torch.Tensor, torch.Tensor, list[float]]:
    """The matching of the weighted sum of standardised ``views``, the summed score and the weights."""
    z = [standardise(v) for v in views]
    weights = [1.0] * len(z)
    score = sum(w * s for w, s in zip(weights, z))
    perm = match(score, rule)
    rows = torch.arange(len(perm))
    for _ in range(passes):
        new = [max(float(s[rows, perm].median()), 0.0) for s in z]
        if sum(new) <= 0 or new == weights:
            break
        weights = new
        score = sum(w * s for w, s in zip(weights, z))
        perm = match(score, rule)
    return perm, score, weights
