"""``reassembly.testing.check_solver`` on every built-in layer-reassembly solver (scikit-learn's
``parametrize_with_checks``): the checks a plugin author runs, passed by this package's own solvers."""

from __future__ import annotations

import pytest

from reassembly.errors import UnsupportedPuzzle
from reassembly.params import Configurable, Interval
from reassembly.registry import get_solver, specs
from reassembly.solver import BaseSolver, SolveResult
from reassembly.testing import CHECKS, check_solver, make_puzzle

BUILT_IN = sorted(n for n, s in specs().items() if s.source == "built-in" and s.task == "reassembly")
SLOW: dict[str, str] = {}  # name -> why its solving checks are left out (none so far: all solve a tiny puzzle in < 1 s)
TINY = make_puzzle(depth=3, width=6, rows=64)[0]


@pytest.mark.parametrize("name", BUILT_IN)
def test_every_built_in_solver_passes_the_checks(name: str) -> None:
    checks = [c for c in CHECKS if name not in SLOW or c not in ("result", "determinism")]
    ran = check_solver(get_solver(name), TINY, checks)
    assert ran == checks or name == "transformer"  # transformer skips relu puzzles: the solving checks do not run


def test_the_slow_ones_are_named_with_a_reason() -> None:
    assert set(SLOW) <= set(BUILT_IN)


class Careless(BaseSolver):
    """A solver that breaks the contract in the ways the checks are for.

    Parameters
    ----------
    rows
        Rows to read (must be positive).
    """

    constraints = {"rows": Interval(1, None)}

    def __init__(self, rows: int = 10) -> None:
        self.rows = rows

    def solve(self, puzzle):
        import random

        from reassembly.answer import Assembly

        ids = list(range(len(puzzle.pieces)))
        random.shuffle(ids)  # not seeded: not deterministic, and not a valid assembly
        return SolveResult(Assembly(tuple(tuple(ids[3 * k : 3 * k + 3]) for k in range(3)), tuple(ids[9:])))


def test_the_checks_name_what_breaks() -> None:
    solver = Careless()
    assert check_solver(solver, TINY, ["protocol", "params_round_trip", "clone", "validation", "skip"])
    with pytest.raises(AssertionError, match="fails check 'result'"):
        check_solver(solver, TINY, ["result"])

    class Wrong(Careless):
        def validate(self, prefix: str = "") -> None:  # a validation that lets everything through
            pass

    with pytest.raises(AssertionError, match="fails check 'validation'"):
        check_solver(Wrong(), TINY, ["validation"])
    with pytest.raises(ValueError, match="unknown check"):
        check_solver(solver, TINY, ["nope"])


def test_skip_is_derived_from_check() -> None:
    class Picky(Careless):
        def check(self, puzzle):
            raise UnsupportedPuzzle("only deep nets")

    assert Picky().skip(TINY) == "only deep nets" and Careless().skip(TINY) is None
    assert isinstance(Picky(), Configurable)
    assert check_solver(Picky(), TINY) == ["protocol", "params_round_trip", "clone", "validation", "skip"]
