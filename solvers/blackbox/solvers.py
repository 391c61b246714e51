"""Black-box reconstruction solvers: a population of surrogates fitted to random queries
(``blackbox-random``) or to queries chosen by committee disagreement (``blackbox-committee``,
"Sequencing the Neurome" §3.2)."""

from __future__ import annotations

import time

import torch

from reassembly.anytime import report
from reassembly.params import Interval
from reassembly.query.blackbox import BlackboxProblem, BlackboxResult
from reassembly.query.mlp import forward, parameter_errors
from reassembly.solver import BaseSolver, StageReport, time_left
from solvers.blackbox.fit import Fit, fit, initial, polish
from solvers.oracles import ask_within_budget, disagreement, require_oracle

EXACT_FIT = 1e-6  # a surrogate this close (relative loss) is polished by Gauss–Newton steps


class _Population(BaseSolver):
    """What both solvers share: asking the oracle and fitting the population."""

    population: int
    max_iter: int
    random_state: int

    def ask(self, problem: BlackboxProblem, X: torch.Tensor) -> torch.Tensor:
        return ask_within_budget(require_oracle(problem, "black-box"), X, problem.o)

    def draw(self, problem: BlackboxProblem, n: int, gen: torch.Generator) -> torch.Tensor:
        return torch.randn(n, problem.d, generator=gen, dtype=torch.float64)

    def fit_all(
        self,
        problem: BlackboxProblem,
        members: list[Fit | None],
        X: torch.Tensor,
        Y: torch.Tensor,
        stages: list[StageReport],
    ) -> list[Fit]:
        """Each member continued on all rows (a new member from the default initialisation where
        ``None``), Gauss–Newton-polished where it fits almost exactly; best first."""
        out = []
        for k, member in enumerate(members):
            t0 = time.perf_counter()
            start = (
                member.params
                if member is not None
                else initial(problem.d, problem.h, problem.o, self.random_state * 1000 + k)
            )
            f = fit(start, X, Y, self.max_iter)
            if f.loss < EXACT_FIT and problem.d * problem.h * len(X) * problem.o <= 5e8:
                f = polish(f.params, X, Y)
            out.append(f)
            stages.append(
                StageReport(
                    "fit", f"member{k}@{len(X)}rows", mse=f.loss, rounds=f.iterations, seconds=time.perf_counter() - t0
                )
            )
        return sorted(out, key=lambda m: m.loss)

    def result(self, best: Fit, stages: list[StageReport], queries: int) -> BlackboxResult:
        return BlackboxResult(dict(best.params), stages, {"loss": best.loss, "queries": queries})


class RandomBlackboxSolver(_Population):
    """Fits a population of surrogates to ``queries`` Gaussian rows asked at once; returns the one
    with the lowest loss.

    Parameters
    ----------
    queries
        Rows to ask about (at most the budget), drawn from a standard normal.
    population
        Surrogates fitted (each from PyTorch's default initialisation, its own seed).
    max_iter
        L-BFGS iterations per surrogate.
    random_state
        Seed of the rows and of the initialisations.
    """

    constraints = {
        "queries": Interval(1, None),
        "population": Interval(1, None),
        "max_iter": Interval(1, None),
        "random_state": Interval(0, None),
    }

    def __init__(self, queries: int = 4096, population: int = 4, max_iter: int = 3000, random_state: int = 0) -> None:
        self.queries = queries
        self.population = population
        self.max_iter = max_iter
        self.random_state = random_state

    def solve(self, problem: BlackboxProblem) -> BlackboxResult:
        self.validate()
        stages: list[StageReport] = []
        X = self.draw(problem, self.queries, torch.Generator().manual_seed(self.random_state))
        Y = self.ask(problem, X)
        X = X[: len(Y)]
        members = self.fit_all(problem, [None] * self.population, X, Y, stages)
        return self.result(members[0], stages, len(X))


#: Share of the time limit after which the committee starts no new round (a round refits every member).
ROUND_SHARE = 0.5


class CommitteeBlackboxSolver(_Population):
    """Committee disagreement sampling: a population of surrogates fitted to the rows asked so far
    is the committee; each round asks about the rows it disagrees on most (the paper's loss, mean
    pairwise L1 distance of normalised outputs, the most disputed rows of a random pool refined by
    gradient ascent on the inputs, each kept at its radius), and refits every member from where it was. Members that cannot fit are restarted.
    Stops at consensus (the two best fit almost exactly and agree after canonicalisation) or when the
    budget is spent.

    Parameters
    ----------
    initial
        Gaussian rows asked about first.
    growth
        Rows added per round, as a share of the rows asked so far (at least ``batch``).
    batch
        Fewest rows added per round.
    population
        Surrogates in the committee.
    pool
        Random candidate rows per round, of which the most disputed are refined and asked about.
    ascent
        Gradient-ascent steps on the candidates' disagreement.
    agree
        Consensus: the largest canonical parameter difference between the two best members.
    max_iter
        L-BFGS iterations per member and round.
    time_limit
        Seconds the solve may take: no new round starts after ``ROUND_SHARE`` of it, and the best
        member so far is reported after every round (an anytime answer the referee scores on a
        timeout). ``None``: the referee's limit where the solve runs under one.
    random_state
        Seed of the rows and of the initialisations.
    """

    constraints = {
        "initial": Interval(1, None),
        "growth": Interval(0, None),
        "batch": Interval(1, None),
        "population": Interval(2, None),
        "pool": Interval(1, None),
        "ascent": Interval(0, None),
        "agree": Interval(0, None, closed=False),
        "max_iter": Interval(1, None),
        "time_limit": Interval(0, None, closed=False),
        "random_state": Interval(0, None),
    }

    def __init__(
        self,
        initial: int = 512,
        growth: float = 0.5,
        batch: int = 64,
        population: int = 4,
        pool: int = 4096,
        ascent: int = 20,
        agree: float = 1e-6,
        max_iter: int = 3000,
        time_limit: float | None = None,
        random_state: int = 0,
    ) -> None:
        self.initial = initial
        self.growth = growth
        self.batch = batch
        self.population = population
        self.pool = pool
        self.ascent = ascent
        self.agree = agree
        self.max_iter = max_iter
        self.time_limit = time_limit
        self.random_state = random_state

    def solve(self, problem: BlackboxProblem) -> BlackboxResult:
        self.validate()
        limit = self.time_limit if self.time_limit is not None else time_left()
        deadline = None if limit is None else time.perf_counter() + ROUND_SHARE * limit
        stages: list[StageReport] = []
        gen = torch.Generator().manual_seed(self.random_state)
        X = self.draw(problem, self.initial, gen)
        Y = self.ask(problem, X)
        X = X[: len(Y)]
        members: list[Fit | None] = [None] * self.population
        while True:
            fitted = self.fit_all(problem, members, X, Y, stages)
            best = fitted[0]
            report(self.result(best, stages, len(X)), task="blackbox")
            if (
                fitted[1].loss < EXACT_FIT
                and parameter_errors(best.params, fitted[1].params)["max_error"] <= self.agree
            ):
                break
            if problem.oracle.remaining == 0 or (deadline is not None and time.perf_counter() > deadline):
                break
            t0 = time.perf_counter()
            rows = self.disputed(fitted, problem, max(self.batch, int(self.growth * len(X))), gen, Y)
            new = self.ask(problem, rows)
            X, Y = torch.cat([X, rows[: len(new)]]), torch.cat([Y, new])
            stages.append(
                StageReport(
                    "query",
                    "committee-disagreement",
                    seconds=time.perf_counter() - t0,
                    details={"rows": len(new), "total": len(X)},
                )
            )
            members = [m if m.loss < 10 * best.loss + EXACT_FIT else None for m in fitted]  # stuck members restart
        return self.result(best, stages, len(X))

    def disputed(
        self, members: list[Fit], problem: BlackboxProblem, n: int, gen: torch.Generator, Y: torch.Tensor
    ) -> torch.Tensor:
        """``n`` rows of a random pool on which the members disagree most, refined by gradient ascent."""
        scale = Y.std(0).clamp_min(1e-12)

        def disputed_by(rows: torch.Tensor) -> torch.Tensor:
            return disagreement(torch.stack([forward(m.params, rows) for m in members]) / scale)

        pool = self.draw(problem, max(self.pool, n), gen)
        with torch.no_grad():
            rows = pool[disputed_by(pool).argsort(descending=True)[:n]].clone()
        radius = rows.norm(dim=1, keepdim=True)
        rows.requires_grad_(True)
        opt = torch.optim.Adam([rows], lr=0.05)
        for _ in range(self.ascent):  # on the sphere of each row's radius: outputs grow with |x|
            opt.zero_grad()
            (-disputed_by(rows).sum()).backward()
            opt.step()
            with torch.no_grad():
                rows.mul_(radius / rows.norm(dim=1, keepdim=True).clamp_min(1e-12))
        return rows.detach()
