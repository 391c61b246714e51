"""Re-synchronisation solvers: the paper's cosine matching (``resync-cosine``) and ours
(``resync-match``); both report the integrity check's flags."""

from __future__ import annotations

import time

import torch

from reassembly.errors import SolverError
from reassembly.params import Interval, OneOf
from reassembly.resync.problem import ResyncProblem, ResyncResult
from reassembly.resync.units import allowed_pairs, outer_groups
from reassembly.solver import BaseSolver, StageReport
from solvers.resync.integrity import flag_rescaled
from solvers.resync.similarity import cosine, margins, match, member_views, restrict
from solvers.resync.views import evidence, likelihood


class _Resync(BaseSolver):
    constraints = {"matching": OneOf(("hungarian", "argmax")), "flag_alpha": Interval(0, 1, closed=False)}

    def layer(
        self, problem: ResyncProblem, k: int, allowed: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, dict]:  # pragma: no cover
        raise NotImplementedError

    def solve(self, problem: ResyncProblem) -> ResyncResult:
        self.validate()
        t0 = time.perf_counter()
        perms, worst, extra = [], [], []
        for k, outer in enumerate(outer_groups(problem.groups)):
            # a group within another (query heads within key-value heads) keeps to its matched outer units
            allowed = None if outer is None else allowed_pairs(perms[outer], problem.groups[k].units)
            perm, score, info = self.layer(problem, k, allowed)
            perms.append(perm)
            worst.append(float(margins(restrict(score, allowed), perm).min()))
            extra.append(info)
        stages = [
            StageReport(
                "match",
                self.__class__.__name__,
                seconds=time.perf_counter() - t0,
                details={"min_margin": worst, "layers": extra},
            )
        ]
        flags: list[tuple[int, int]] = []
        if self.flag_alpha is not None:
            t0 = time.perf_counter()
            flags, top = flag_rescaled(problem.reference, problem.copy, problem.groups, perms, self.flag_alpha)
            stages.append(
                StageReport(
                    "integrity",
                    "norm ratios",
                    seconds=time.perf_counter() - t0,
                    details={"flagged": len(flags), "largest_statistic": top},
                )
            )
        return ResyncResult([p.tolist() for p in perms], flags, stages)


class ResyncCosineSolver(_Resync):
    """The paper ("Find the Lady"): per layer, the cosine of each unit's incoming parameters
    (weights and bias) in the reference and the copy, then a matching.

    Parameters
    ----------
    matching
        ``hungarian`` (the largest total cosine) or ``argmax`` (the paper's rule: each unit takes
        its most similar free unit, most similar pairs first).
    flag_alpha
        False-alarm rate of the integrity check over all units (``None``: no check).
    """

    def __init__(self, matching: str = "hungarian", flag_alpha: float | None = 0.01) -> None:
        self.matching = matching
        self.flag_alpha = flag_alpha

    def layer(
        self, problem: ResyncProblem, k: int, allowed: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, dict]:
        views = member_views(problem.reference, problem.copy, problem.groups[k], ("in",))
        a = torch.cat([v[0] for v in views.values()], 1)
        b = torch.cat([v[1] for v in views.values()], 1)
        score = cosine(a, b)
        return match(score, self.matching, allowed), score, {}


class ResyncMatchSolver(_Resync):
    """Ours: every tensor that carries a unit (incoming and outgoing, each weight with its bias),
    compared on the entries the copy keeps, then the best matching (:mod:`solvers.resync.views`).
    By default each tensor gives a masked cosine and a masked distance, standardised and weighted
    by how well they separate the current matching's pairs (``evidence``): a view that fine-tuning
    or noise has made uninformative weighs little. Chosen over ``likelihood`` on held-out seeds
    100 and 101 (docs/tasks.md): equal under pruning, quantisation and moderate noise, and it holds
    fine-tuning to 10,000 steps where ``likelihood`` already fails at 1,000-3,000.

    Parameters
    ----------
    method
        ``evidence`` (the default, above), ``likelihood`` (the likelihood of Gaussian noise whose
        level is measured on the layer, rare rescaled units allowed; strongest under heavy noise,
        weak under fine-tuning) or ``combined`` (both kinds of views).
    eps
        Prior share of units rescaled by an attack or a symmetry (``likelihood`` only).
    sides
        Which tensors: ``in`` (those that compute the unit) and/or ``out`` (those that read it).
    passes
        Rounds of re-estimating the noise (or the weights) from the current matching.
    matching
        ``hungarian`` or ``argmax`` (as for ``resync-cosine``).
    flag_alpha
        False-alarm rate of the integrity check over all units (``None``: no check).
    """

    constraints = {
        **_Resync.constraints,
        "method": OneOf(("likelihood", "evidence", "combined")),
        "eps": Interval(0, 1, closed=False),
        "passes": Interval(0, None),
    }

    def __init__(
        self,
        method: str = "evidence",
        eps: float = 0.01,
        sides: tuple[str, ...] = ("in", "out"),
        passes: int = 3,
        matching: str = "hungarian",
        flag_alpha: float | None = 0.01,
    ) -> None:
        self.method = method
        self.eps = eps
        self.sides = sides
        self.passes = passes
        self.matching = matching
        self.flag_alpha = flag_alpha

    def validate(self) -> None:
        super().validate()
        if not self.sides or set(self.sides) - {"in", "out"}:
            raise SolverError(f"sides must be some of in, out, got {self.sides!r}")

    def layer(
        self, problem: ResyncProblem, k: int, allowed: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, dict]:
        pairs = list(member_views(problem.reference, problem.copy, problem.groups[k], tuple(self.sides)).values())
        if not pairs:  # a group with no tensor on the chosen sides: compare all of them
            pairs = list(member_views(problem.reference, problem.copy, problem.groups[k]).values())
        if self.method == "likelihood":
            return likelihood(pairs, self.eps, self.passes, self.matching, allowed)
        eps = self.eps if self.method == "combined" else None
        return evidence(pairs, self.passes, self.matching, eps, allowed)
