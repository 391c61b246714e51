"""Conformance checks of a layer-reassembly solver: the contract every built-in solver meets and a
plugin should too.

Each check is a function ``check(solver, puzzle)`` that raises ``AssertionError`` with a message
naming what broke; :func:`check_solver` runs them all (or a chosen few) on a fresh clone each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from reassembly.answer import Assembly, validate
from reassembly.errors import PermutationError, SolverError, UnsupportedPuzzle
from reassembly.params import Configurable, Interval, OneOf, clone
from reassembly.puzzle import Puzzle
from reassembly.solver import Solver, SolveResult, skip_reason


def check_protocol(solver: Any, puzzle: Puzzle) -> None:
    """``solve`` and ``get_params`` exist; the parameters are a dict keyed by strings."""
    assert isinstance(solver, Solver), f"{type(solver).__name__} has no solve(puzzle) and get_params()"
    params = solver.get_params()
    assert isinstance(params, dict) and all(isinstance(k, str) for k in params), (
        "get_params() must return a dict keyed by option names"
    )


def check_params_round_trip(solver: Any, puzzle: Puzzle) -> None:
    """``set_params(**get_params())`` changes nothing; every option is stored under its own name
    (nothing computed in ``__init__``); ``repr`` names the class."""
    if not isinstance(solver, Configurable):
        return
    before = solver.get_params(deep=False)
    for name, value in before.items():
        assert getattr(solver, name) is value, f"option {name!r} is not stored as given"
    solver.set_params(**{k: v for k, v in before.items() if not isinstance(v, Configurable)})
    assert solver.flat_params() == clone(solver).flat_params(), "set_params(**get_params()) changed the parameters"
    assert repr(solver).startswith(type(solver).__name__ + "(")
    try:
        solver.set_params(no_such_option_xyz=1)
    except SolverError:
        pass
    else:
        raise AssertionError("set_params accepted an unknown option")


def check_clone(solver: Any, puzzle: Puzzle) -> None:
    """A clone has the same parameters, and no part shared with the original."""
    copy = clone(solver)
    assert copy is not solver and type(copy) is type(solver)
    if isinstance(solver, Configurable):
        assert copy.flat_params() == solver.flat_params(), "clone() changed the parameters"
        for name, value in solver.get_params(deep=True).items():
            if isinstance(value, Configurable):
                assert copy.get_params(deep=True)[name] is not value, f"part {name!r} is shared with the clone"


def _bad_value(rule: Interval | OneOf) -> Any:
    if isinstance(rule, OneOf):
        return "no-such-choice-xyz"
    if rule.low is not None:
        return rule.low - 1
    return rule.high + 1  # type: ignore[operator]


def check_validation(solver: Any, puzzle: Puzzle) -> None:
    """The defaults validate; a value outside each declared constraint, or of the wrong type,
    raises :class:`~reassembly.errors.SolverError` from ``validate()``."""
    if not isinstance(solver, Configurable):
        return
    solver.validate()
    for path, owner, name in _options(solver):
        rule = owner.constraints.get(name)
        if rule is None or (isinstance(rule, Interval) and rule.low is None and rule.high is None):
            continue
        broken = clone(solver).set_params(**{path: _bad_value(rule)})
        try:
            broken.validate()
        except SolverError:
            continue
        raise AssertionError(f"option {path}={_bad_value(rule)!r} breaks its constraint ({rule}) but validates")
    typed = clone(solver)
    name = next(iter(typed.get_params(deep=False)), None)
    if name is not None and not isinstance(getattr(typed, name), Configurable):
        typed.set_params(**{name: object()})
        try:
            typed.validate()
        except SolverError:
            return
        hints = type(solver)._hints()
        if name in hints and "Any" not in str(hints[name]):
            raise AssertionError(f"option {name}=object() has the wrong type but validates")


def _options(solver: Configurable, prefix: str = "") -> Iterable[tuple[str, Configurable, str]]:
    for name, value in solver.get_params(deep=False).items():
        if isinstance(value, Configurable):
            yield from _options(value, f"{prefix}{name}__")
        else:
            yield f"{prefix}{name}", solver, name


def check_result(solver: Any, puzzle: Puzzle) -> None:
    """``solve`` returns a :class:`~reassembly.solver.SolveResult` whose assembly uses every piece
    once, each in a slot its shape fits."""
    result = solver.solve(puzzle)
    assert isinstance(result, SolveResult), f"solve() returned {type(result).__name__}, not SolveResult"
    assert isinstance(result.assembly, Assembly), f"the result's assembly is a {type(result.assembly).__name__}"
    try:
        validate(result.assembly, puzzle.layout)
    except PermutationError as exc:
        raise AssertionError(f"invalid assembly: {exc}") from None
    result.to_json()


def check_determinism(solver: Any, puzzle: Puzzle) -> None:
    """Two clones with the same parameters (seed included) give the same answer on the same puzzle."""
    first, second = clone(solver).solve(puzzle), clone(solver).solve(puzzle)
    assert first.assembly.ids() == second.assembly.ids(), "two solves with the same parameters gave different answers"


def check_skip(solver: Any, puzzle: Puzzle) -> None:
    """``skip(puzzle)`` (or ``check``) answers without solving: ``None`` or a reason string."""
    reason = skip_reason(solver, puzzle)
    assert reason is None or (isinstance(reason, str) and reason), "skip() must return None or a non-empty reason"


CHECKS: dict[str, Callable[[Any, Puzzle], None]] = {
    "protocol": check_protocol,
    "params_round_trip": check_params_round_trip,
    "clone": check_clone,
    "validation": check_validation,
    "skip": check_skip,
    "result": check_result,
    "determinism": check_determinism,
}
SOLVING = ("result", "determinism")


def check_solver(solver: Any, puzzle: Puzzle | None = None, checks: Iterable[str] | None = None) -> list[str]:
    """Run the conformance checks on ``solver``; raise ``AssertionError`` naming the first that fails.

    Each check gets a fresh clone. Where the solver skips ``puzzle`` (its ``skip``/``check``), the
    checks that solve are not run.

    Parameters
    ----------
    solver
        A built solver (``get_solver(name, **options)`` or an instance of your class).
    puzzle
        What the solving checks solve; default a tiny relu puzzle (depth 3, width 6; seconds or less).
    checks
        Names from :data:`CHECKS` to run (default: all).

    Returns
    -------
    list of str
        The checks that ran.
    """
    if puzzle is None:
        from reassembly.testing.puzzles import make_puzzle

        puzzle = make_puzzle(depth=3, width=6, rows=64)[0]
    chosen = list(CHECKS) if checks is None else list(checks)
    unknown = sorted(set(chosen) - set(CHECKS))
    if unknown:
        raise ValueError(f"unknown check(s) {', '.join(unknown)}; choose from {', '.join(CHECKS)}")
    check_protocol(solver, puzzle)
    if skip_reason(solver, puzzle) is not None:
        chosen = [c for c in chosen if c not in SOLVING]
    ran = []
    for name in chosen:
        try:
            CHECKS[name](clone(solver), puzzle)
        except AssertionError as exc:
            raise AssertionError(f"{type(solver).__name__} fails check {name!r}: {exc}") from None
        except UnsupportedPuzzle as exc:
            raise AssertionError(
                f"{type(solver).__name__} fails check {name!r}: raised UnsupportedPuzzle ({exc}) "
                "at solve time although skip() let the puzzle through"
            ) from None
        ran.append(name)
    return ran
