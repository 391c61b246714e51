"""The solver protocol: configuration in ``__init__``, all work in ``solve(puzzle)``, an
:class:`~reassembly.answer.Assembly` out."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

from reassembly.answer import Assembly
from reassembly.errors import UnsupportedPuzzle
from reassembly.params import Configurable
from reassembly.puzzle import Puzzle

_deadline: float | None = None


def set_time_budget(seconds: float | None) -> None:
    """Start the clock of the current solve: the referee stops it after ``seconds`` (``None``: never).

    Parameters
    ----------
    seconds
        The solve's time limit as the referee enforces it (the bench's ``--timeout``).
    """
    global _deadline
    _deadline = None if seconds is None else time.monotonic() + float(seconds)


def time_left() -> float | None:
    """Seconds left before the referee stops the current solve (``None``: no limit is known).

    Solvers that can use more time to search further (``fast``) read it to stop in time with an answer.
    """
    return None if _deadline is None else _deadline - time.monotonic()


@dataclass
class StageReport:
    """What one stage (grouping, seed, descent, search, ...) did."""

    stage: str
    method: str
    mse: float = float("nan")
    rounds: int = 0
    swaps: int = 0
    evaluations: int = 0
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class SolveResult:
    """A solver's answer and how it got there (what the solver *claims*; the referee recomputes
    everything it scores from ``assembly`` alone)."""

    assembly: Assembly
    stages: list[StageReport] = field(default_factory=list)
    certificate: dict[str, Any] | None = None

    @property
    def evaluations(self) -> int:
        return sum(s.evaluations for s in self.stages)

    def to_json(self) -> dict[str, Any]:
        return {
            "answer": self.assembly.text(),
            "evaluations": self.evaluations,
            "stages": [asdict(s) for s in self.stages],
            "certificate": self.certificate,
        }


@runtime_checkable
class Solver(Protocol):
    """Anything with ``solve(puzzle) -> SolveResult`` and ``get_params() -> dict``."""

    def solve(self, puzzle: Puzzle) -> SolveResult: ...

    def get_params(self) -> dict[str, Any]: ...


class BaseSolver(Configurable):
    """Base of the built-in solvers: scikit-learn-style options (:class:`~reassembly.params.Configurable`)."""

    def check(self, puzzle: Puzzle) -> None:
        """Raise :class:`~reassembly.errors.UnsupportedPuzzle` where this solver does not apply to
        ``puzzle`` (benchopt's ``skip``): a bench asks before it runs anything and leaves such runs
        out. Cheap, read-only, from the puzzle's family and layout; the default applies everywhere.

        Parameters
        ----------
        puzzle
            The problem as the solver would see it.
        """

    def skip(self, puzzle: Puzzle) -> str | None:
        """Why this solver does not apply to ``puzzle`` (``None``: it applies); what a bench asks
        before it spawns anything. Derived from :meth:`check`: override ``check`` (raise), not this.

        Parameters
        ----------
        puzzle
            The problem as the solver would see it.
        """
        return _check_reason(self.check, puzzle)

    def solve(self, puzzle: Puzzle) -> SolveResult:  # pragma: no cover - abstract
        raise NotImplementedError


def skip_reason(solver: Any, problem: Any) -> str | None:
    """Why ``solver`` does not apply to ``problem`` (``None``: it applies, or cannot tell): its
    ``skip(problem)`` where it has one, else its ``check(problem)`` (raising
    :class:`~reassembly.errors.UnsupportedPuzzle`), else ``None``. One protocol for any solver,
    built on :class:`BaseSolver` or not.

    Parameters
    ----------
    solver
        A built solver; only ``skip`` or ``check`` is called.
    problem
        The problem as the solver sees it.
    """
    skip = getattr(solver, "skip", None)
    if callable(skip):
        reason = skip(problem)
        return None if reason is None else str(reason)
    check = getattr(solver, "check", None)
    return _check_reason(check, problem) if callable(check) else None


def _check_reason(check: Any, problem: Any) -> str | None:
    """The message of the :class:`~reassembly.errors.UnsupportedPuzzle` ``check(problem)`` raises (``None``: none)."""
    try:
        check(problem)
    except UnsupportedPuzzle as exc:
        return str(exc)
    return None
