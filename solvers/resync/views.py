"""How ours compares a reference layer's units with the copy's.

Every tensor of a unit (a weight with its bias) is compared on the entries the copy holds: an
entry the copy holds at exactly zero counts as missing (magnitude pruning zeroes entries and keeps
the others as they were). For a reference unit ``w`` and a copy unit ``c`` (on ``c``'s support):

* ``D0 = |c - w|²``: the copy is the reference plus noise;
* ``D1 = |c|² - (w·c)² / |w|²`` (``|c|²`` where ``w·c <= 0``): the copy is a positively rescaled
  reference plus noise (what an integrity attack, or the family's rescaling symmetry, does).

``likelihood`` scores a pair by the log-likelihood of Gaussian noise of variance ``σ²`` per entry,
where a rescaled unit is a priori rare (share ``eps``): ``-min(D0, D1 + 2σ² log(1/eps)) / 2σ²``,
summed over the tensors. Each tensor's ``σ²`` is measured from the pairs matched (robustly: the
median per entry), starting from each copy unit's nearest reference unit, then re-matched. The
``evidence`` combination instead standardises a masked cosine and a masked relative distance per
tensor and weights them by the separation they show under the current matching.
"""

from __future__ import annotations

import math

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


class Likelihood:
    """One tensor's pairwise squared distances, plain and up to a positive rescaling of the unit,
    and the mixture's parameters: noise variance per entry and share of rescaled units."""

    def __init__(self, a: torch.Tensor, b: torch.Tensor, eps: float) -> None:
        dot, a2, b2 = _parts(a, b)
        self.d0 = (b2 - 2 * dot + a2).clamp_min(0)
        self.d1 = torch.where(dot > 0, b2 - dot.square() / a2.clamp_min(TINY), b2.expand_as(dot)).clamp_min(0)
        self.entries = (b != 0).sum(1).to(a.dtype).clamp_min(1)
        self.floor = 1e-12 * float(b2.mean()) / float(self.entries.mean())  # σ² never below float rounding
        self.eps, self.least = eps, 1 / (2 * a.shape[0])
        self.variance = max(float((self.d0.min(dim=0).values / self.entries).median()), self.floor)

    def score(self) -> torch.Tensor:
        """Log-likelihood of each pair under the mixture (plain with weight ``1 - eps``, rescaled with ``eps``)."""
        v = 2 * self.variance
        return torch.logaddexp(math.log1p(-self.eps) - self.d0 / v, math.log(self.eps) - self.d1 / v)

    def refit(self, perm: torch.Tensor) -> None:
        """The mixture's parameters from the pairs of ``perm`` (one EM step): the share of pairs
        better explained rescaled, and σ² per entry (median) of the distance each pair takes."""
        rows, cols = torch.argsort(perm), torch.arange(len(perm))
        d0, d1 = self.d0[rows, cols], self.d1[rows, cols]
        v = 2 * self.variance
        rescaled = torch.sigmoid((d0 - d1) / v + math.log(self.eps) - math.log1p(-self.eps))
        self.eps = min(max(float(rescaled.mean()), self.least), 0.5)
        chosen = torch.where(rescaled > 0.5, d1, d0)
        self.variance = max(float((chosen / self.entries).median()), self.floor)


def likelihood(
    pairs: list[tuple[torch.Tensor, torch.Tensor]],
    eps: float = 0.01,
    passes: int = 3,
    rule: str = "hungarian",
    allowed: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """The matching of the summed mixture log-likelihood of the tensors ``pairs`` (reference rows,
    copy rows), its parameters re-estimated from each matching (``passes`` rounds at most; only
    ``allowed`` pairs where given)."""
    terms = [Likelihood(a, b, eps) for a, b in pairs]
    perm = None
    for _ in range(max(1, passes)):
        score = sum(t.score() for t in terms)
        new = match(score, rule, allowed)
        if perm is not None and torch.equal(new, perm):
            break
        perm = new
        for t in terms:
            t.refit(perm)
    return (
        perm,
        score,
        {
            "noise_variance": [float(f"{t.variance:.3g}") for t in terms],
            "rescaled_share": [round(t.eps, 3) for t in terms],
        },
    )


def evidence(
    pairs: list[tuple[torch.Tensor, torch.Tensor]],
    passes: int = 3,
    rule: str = "hungarian",
    eps: float | None = None,
    allowed: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """The matching of the evidence-weighted sum of standardised masked cosines and distances
    (and, with ``eps``, each tensor's likelihood term as one more view; only ``allowed`` pairs
    where given)."""
    z = [standardise(f(a, b)) for a, b in pairs for f in (masked_cosine, masked_distance)]
    if eps is not None:
        z += [standardise(Likelihood(a, b, eps).score()) for a, b in pairs]
    weights = [1.0] * len(z)
    score = sum(z)
    perm = match(score, rule, allowed)
    rows = torch.arange(len(perm))
    for _ in range(passes):
        new = [max(float(s[rows, perm].median()), 0.0) for s in z]
        if sum(new) <= 0 or new == weights:
            break
        weights = new
        score = sum(w * s for w, s in zip(weights, z))
        perm = match(score, rule, allowed)
    return perm, score, {"weights": [round(w, 3) for w in weights]}


METHODS = {"likelihood": likelihood, "evidence": evidence}
