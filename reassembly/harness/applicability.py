"""Which planned runs apply: a plan-time answer, asked of each solver before anything is spawned
(benchopt's ``Solver.skip``). A solver whose ``skip(problem)`` returns a reason (built-in solvers
derive it from ``check(problem)`` raising :class:`~reassembly.errors.UnsupportedPuzzle`, see
:func:`reassembly.solver.skip_reason`) does not apply to that problem; its runs are left out of the
bench and named in one line. Solvers with neither apply everywhere (a run-time ``unsupported``
stays possible for them)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reassembly.harness.plan import Run, SolverEntry, digest
from reassembly.solver import skip_reason


def why_not(solver: Any, problem: Any) -> str | None:
    """Why ``solver`` does not apply to ``problem`` (``None``: it applies, or cannot tell).

    Parameters
    ----------
    solver
        A built solver; only its optional ``skip(problem)`` or ``check(problem)`` is called.
    problem
        The problem as a solver sees it (a private copy: the check runs the solver's code).
    """
    return skip_reason(solver, problem)


def _asks(solver: Any) -> bool:
    return callable(getattr(solver, "skip", None)) or callable(getattr(solver, "check", None))


def _load(run: Run) -> Any:
    from reassembly.tasks import get_task

    return get_task(run.puzzle.task).load(Path(run.puzzle.path))


def _build(entry: SolverEntry) -> Any:
    from reassembly.registry import get_spec

    return get_spec(entry.name).make(**entry.options)


def applicable(
    runs: list[Run], load: Callable[[Run], Any] = _load, build: Callable[[SolverEntry], Any] = _build
) -> tuple[list[Run], list[tuple[Run, str]]]:
    """The runs whose solver applies to their puzzle, and the others with the solver's reason.

    Each puzzle is loaded once, and only where one of its variants has a ``skip`` or ``check``; each variant
    is built once.

    Parameters
    ----------
    runs
        The planned runs, puzzle-major (:func:`reassembly.harness.plan.plan_runs`).
    load
        Loads a run's problem (default: from its stored directory, through its task).
    build
        Builds a run's solver variant (default: through the registry).
    """
    solvers: dict[str, Any] = {}
    problems: dict[str, Any] = {}
    kept: list[Run] = []
    left: list[tuple[Run, str]] = []
    for run in runs:
        ident = digest([run.solver.name, run.solver.params])
        if ident not in solvers:
            solvers[ident] = build(run.solver)
        solver = solvers[ident]
        if not _asks(solver):
            kept.append(run)
            continue
        if run.puzzle.id not in problems:
            problems.clear()  # one problem in memory at a time (runs are puzzle-major)
            problems[run.puzzle.id] = load(run)
        reason = why_not(solver, problems[run.puzzle.id])
        if reason is None:
            kept.append(run)
        else:
            left.append((run, reason))
    return kept, left


def left_out_line(left: list[tuple[Run, str]]) -> str | None:
    """One line naming the variants left out, on how many puzzles, and why (``None``: none left out).

    Parameters
    ----------
    left
        The runs left out, with their reasons (:func:`applicable`).
    """
    if not left:
        return None
    by_variant: dict[str, list[tuple[Run, str]]] = defaultdict(list)
    for run, reason in left:
        by_variant[run.solver.label].append((run, reason))
    parts = []
    for label, items in by_variant.items():
        puzzles = len({run.puzzle.id for run, _ in items})
        reasons = list(dict.fromkeys(reason for _, reason in items))
        why = reasons[0] + (
            f" (and {len(reasons) - 1} other reason{'s' * (len(reasons) > 2)})" if len(reasons) > 1 else ""
        )
        parts.append(f"{label} on {puzzles} puzzle{'s' * (puzzles != 1)}: {why}")
    return f"Left out {len(left)} run{'s' * (len(left) != 1)} where the solver does not apply: " + "; ".join(parts)
