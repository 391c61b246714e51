"""scikit-learn-style configuration: nested parameters, cloning, validation and help."""

from __future__ import annotations

import pytest

from reassembly.errors import SolverError
from reassembly.params import clone
from reassembly.registry import get_solver
from solvers.fast import FastSolver, IteratedSearch


def test_nested_parameters_reach_inside_parts() -> None:
    solver = FastSolver()
    params = solver.get_params(deep=True)
    assert params["search__patience"] is None and isinstance(params["search"], IteratedSearch)
    solver.set_params(search__patience=20, whitening__strength=0.0, rows=(256,))
    assert solver.search.patience == 20 and solver.whitening.strength == 0.0 and solver.rows == (256,)
    flat = solver.flat_params()
    assert flat["search__patience"] == 20 and "search" not in flat
    with pytest.raises(SolverError, match="has no option 'nope'"):
        solver.set_params(nope=1)
    with pytest.raises(SolverError, match="IteratedSearch has no option 'bogus'"):
        solver.set_params(search__bogus=1)


def test_clone_copies_the_configuration_not_the_objects() -> None:
    solver = FastSolver(rows=(100, 200))
    solver.set_params(search__kick_moves=5)
    copy = clone(solver)
    assert copy is not solver and copy.search is not solver.search
    assert copy.flat_params() == solver.flat_params()
    copy.set_params(search__kick_moves=2)
    assert solver.search.kick_moves == 5


def test_registry_builds_variants_with_nested_options() -> None:
    solver = get_solver("fast", search__patience=7, grouping="ddr")
    assert solver.search.patience == 7 and solver.grouping == "ddr"
    short = get_solver("fast", max_shift=3, kicks=2)  # a part's option by its own name, where only one part has it
    assert short.descent.max_shift == 3 and short.whitening.kicks == 2


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rows": "abc"}, "option rows: expected"),
        ({"random_state": 1.5}, "option random_state: expected int"),
        ({"rows": -5}, "option rows: must be [2, inf]"),
        ({"search__patience": 0}, "option search__patience: must be [1, inf]"),
        ({"grouping": "bogus"}, "option grouping: must be one of ddr, cosine, units"),
        ({"floor": float("nan")}, "option floor: expected float"),
    ],
)
def test_values_are_checked_against_declared_types_and_ranges(options, message) -> None:
    with pytest.raises(SolverError) as info:
        get_solver("fast", **options)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_every_option_of_fast_has_one_line_help() -> None:
    helps = FastSolver.param_help()
    assert set(helps) == set(FastSolver().get_params(deep=False))
    assert len(helps) <= 12 and all(h and "\n" not in h for h in helps.values())
    for part in ("descent", "search", "whitening", "regroup"):
        kind = type(getattr(FastSolver(), part))
        assert set(kind.param_help()) == set(kind().get_params()), part
