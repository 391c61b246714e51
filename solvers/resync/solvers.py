"""Re-synchronisation solvers: the paper's cosine matching (``resync-cosine``) and ours
(``resync-match``); both report the integrity check's flags."""
from __future__ import annotations

import time

import torch

from reassembly.params import Interval, OneOf
from reassembly.resync.problem import ResyncProblem, ResyncResult
from reassembly.solver import BaseSolver, StageReport
from solvers.resync.integrity import flag_rescaled
from solvers.resync.similarity import cosine, margins, match, member_views
from solvers.resync.views import VIEWS, combine


class _Resync(BaseSolver):
    constraints = {"matching": OneOf(("hungarian", "argmax")), "flag_alpha": Interval(0, 1, closed=False)}

    def layer(self, problem: ResyncProblem, k: int) -> tuple[torch.Tensor, torch.Tensor, dict]:  # pragma: no cover
        raise NotImplementedError

    def solve(self, problem: ResyncProblem) -> ResyncResult:
        self.validate()
        t0 = time.perf_counter()
        perms, worst, extra = [], [], []
        for k in range(len(problem.groups)):
            perm, score, info = self.layer(problem, k)
            perms.append(perm)
            worst.append(float(margins(score, perm).min()))
            extra.append(info)
        stages = [StageReport("match", self.__class__.__name__, seconds=time.perf_counter() - t0,
                              details={"min_margin": worst, "layers": extra})]
        flags: list[tuple[int, int]] = []
        if self.flag_alpha is not None:
            t0 = time.perf_counter()
            flags, top = flag_rescaled(problem.reference, problem.copy, problem.groups, perms, self.flag_alpha)
            stages.append(StageReport("integrity", "norm ratios", seconds=time.perf_counter() - t0,
                                      details={"flagged": len(flags), "largest_statistic": top}))
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

    def layer(self, problem: ResyncProblem, k: int) -> tuple[torch.Tensor, torch.Tensor, dict]:
        views = member_views(problem.reference, problem.copy, problem.groups[k], ("in",))
        a = torch.cat([v[0] for v in views.values()], 1)
        b = torch.cat([v[1] for v in views.values()], 1)
        score = cosine(a, b)
        return match(score, self.matching), score, {}


class ResyncMatchSolver(_Resync):
    """Ours: every tensor that carries a unit (incoming and outgoing, each weight with its bias),
    compared by a masked cosine and a masked distance, the views weighted by their own evidence,
    then the best matching.

    Parameters
    ----------
    views
        Which comparisons to use per tensor: ``cosine`` and/or ``distance``
        (:mod:`solvers.resync.views`).
    sides
        Which tensors: ``in`` (those that compute the unit) and/or ``out`` (those that read it).
    passes
        Rounds of re-weighting the views by the separation they show under the current matching.
    matching
        ``hungarian`` or ``argmax`` (as for ``resync-cosine``).
    flag_alpha
        False-alarm rate of the integrity check over all units (``None``: no check).
    """

    constraints = {**_Resync.constraints, "passes": Interval(0, None)}

    def __init__(self, views: tuple[str, ...] = ("cosine", "distance"), sides: tuple[str, ...] = ("in", "out"),
                 passes: int = 3, matching: str = "hungarian", flag_alpha: float | None = 0.01) -> None:
        self.views = views
        self.sides = sides
        self.passes = passes
        self.matching = matching
        self.flag_alpha = flag_alpha

    def validate(self) -> None:
        super().validate()
        from reassembly.errors import SolverError

        if not self.views or set(self.views) - set(VIEWS) or not self.sides or set(self.sides) - {"in", "out"}:
            raise SolverError(f"views must be some of {', '.join(VIEWS)} and sides some of in, out")

    def layer(self, problem: ResyncProblem, k: int) -> tuple[torch.Tensor, torch.Tensor, dict]:
        tensors = member_views(problem.reference, problem.copy, problem.groups[k], tuple(self.sides))
        views = [VIEWS[v](a, b) for a, b in tensors.values() for v in self.views]
        perm, score, weights = combine(views, self.passes, self.matching)
        return perm, score, {"weights": [round(w, 3) for w in weights]}
