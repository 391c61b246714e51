"""Solver registry: built-ins, a real third-party entry point, broken plugins, run-time register()."""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import pytest
from helpers.cli import assert_clean_error, invoke

from reassembly.answer import parse_ids
from reassembly.errors import SolverError
from reassembly.loader import load_puzzle
from reassembly.registry import ENTRY_POINT_GROUP, get_solver, list_solvers, register, specs, unregister
from reassembly.solver import Solver

PLUGIN_MODULE = '''
"""A third-party solver: groups the pieces of each slot by sorted id and keeps that order."""
from reassembly.answer import Assembly
from reassembly.solver import BaseSolver, SolveResult, StageReport


class SortedSolver(BaseSolver):
    def __init__(self, reverse: bool = False) -> None:
        self.reverse = reverse

    def solve(self, puzzle):
        pools = puzzle.layout.pools
        blocks = list(zip(*(pools[s] for s in puzzle.layout.block_slots)))
        if self.reverse:
            blocks.reverse()
        head = tuple(pools[s][0] for s in puzzle.layout.head_slots)
        return SolveResult(Assembly(tuple(blocks), head), stages=[StageReport("sort", "sorted ids")])
'''

ENTRY_POINTS = f"""
[{ENTRY_POINT_GROUP}]
fake-sorted = fakeplugin_solvers:SortedSolver
fake-broken = fakeplugin_broken:Solver
fake-missing = fakeplugin_solvers:NoSuchClass
"""


@pytest.fixture
def fake_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Install a distribution ``fakeplugin`` (dist-info + modules) on sys.path for one test."""
    site = tmp_path / "site"
    dist_info = site / "fakeplugin-0.1.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakeplugin\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text(textwrap.dedent(ENTRY_POINTS))
    (site / "fakeplugin_solvers.py").write_text(PLUGIN_MODULE)
    (site / "fakeplugin_broken.py").write_text('raise RuntimeError("fakeplugin is broken on purpose")\n')
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    yield site
    for name in ("fakeplugin_solvers", "fakeplugin_broken"):
        sys.modules.pop(name, None)


@pytest.fixture
def runtime_name():
    """A name registered at run time during the test, always unregistered afterwards."""
    name = "test-runtime-solver"
    yield name
    unregister(name)


def test_builtins_are_entry_points() -> None:
    found = specs()
    for name in ("paper", "paper-hillclimb", "cosine"):
        assert found[name].source == "built-in"
        assert isinstance(found[name].entry_point, str) and ":" in found[name].entry_point


def test_plugin_is_listed_without_importing(fake_plugin: Path) -> None:
    found = specs()
    assert found["fake-sorted"].source == "plugin fakeplugin"
    assert "fakeplugin_broken" not in sys.modules  # listing imports nothing
    result = invoke("solvers")
    assert result.exit_code == 0, result.output
    for name in ("fake-sorted", "fake-broken", "plugin fakeplugin", "paper", "cosine"):
        assert name in result.output


def test_plugin_solver_runs(fake_plugin: Path, puzzle_dir: Path) -> None:
    puzzle = load_puzzle(puzzle_dir)
    solver = get_solver("fake-sorted", reverse=True)
    assert isinstance(solver, Solver) and solver.get_params() == {"reverse": True}
    answer = solver.solve(puzzle).assembly
    assert answer.blocks[0][0] == max(puzzle.layout.pools["inp"])

    result = invoke("solve", puzzle_dir, "--solver", "fake-sorted", "-o", "reverse=true")
    assert result.exit_code == 0, result.output
    assert parse_ids(result.output.strip()) == answer.ids()
    assert (
        parse_ids(invoke("solve", puzzle_dir, "--solver", "fake-sorted[reverse=true]").output.strip()) == answer.ids()
    )


def test_broken_plugin_fails_loudly_with_its_name(fake_plugin: Path, puzzle_dir: Path) -> None:
    with pytest.raises(SolverError) as info:
        get_solver("fake-broken")
    message = str(info.value)
    for fragment in ("fake-broken", "plugin fakeplugin", "fakeplugin_broken:Solver", "broken on purpose"):
        assert fragment in message
    assert_clean_error(invoke("solve", puzzle_dir, "--solver", "fake-broken"), "fake-broken", "failed to load")
    listing = invoke("solvers", "--load")  # the listing goes on, naming the broken plugin in its row
    assert listing.exit_code == 0 and "fake-broken" in listing.output and "failed to load" in listing.output


def test_missing_attribute_in_plugin(fake_plugin: Path) -> None:
    with pytest.raises(SolverError, match="fake-missing.*NoSuchClass"):
        get_solver("fake-missing")


def test_unknown_solver(puzzle_dir: Path) -> None:
    with pytest.raises(SolverError, match=r"unknown solver 'nope'; available: .*paper"):
        get_solver("nope")
    assert_clean_error(invoke("solve", puzzle_dir, "--solver", "nope"), "unknown solver 'nope'", "cosine")


def test_bad_option_name(puzzle_dir: Path) -> None:
    with pytest.raises(
        SolverError, match="solver 'paper': PaperSolver has no option 'no_such_option'; options: pairing"
    ):
        get_solver("paper", no_such_option=1)
    assert_clean_error(
        invoke("solve", puzzle_dir, "--solver", "paper", "-o", "no_such_option=1"), "has no option 'no_such_option'"
    )
    assert_clean_error(invoke("solve", puzzle_dir, "--solver", "paper", "-o", "rows"), "must look like NAME=VALUE")


def test_runtime_register(runtime_name: str, synthetic) -> None:
    from solvers.paper import PaperHillclimbSolver

    register(runtime_name, PaperHillclimbSolver, seed="wout-norm")
    assert runtime_name in list_solvers()
    assert specs()[runtime_name].source == "runtime"
    solver = get_solver(runtime_name)
    assert solver.get_params()["seed"] == "wout-norm"
    assert get_solver(runtime_name, seed="delta-norm").get_params()["seed"] == "delta-norm"

    register(runtime_name, "solvers.paper:CosineSolver")  # by "module:attr", replacing the first
    assert type(get_solver(runtime_name)).__name__ == "CosineSolver"
    unregister(runtime_name)
    assert runtime_name not in list_solvers()


def test_factory_that_makes_no_solver(runtime_name: str) -> None:
    register(runtime_name, dict)
    with pytest.raises(SolverError, match="no solve"):
        get_solver(runtime_name)
