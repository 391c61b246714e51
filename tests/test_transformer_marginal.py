"""Neighbour exchanges of components judged with the norm gains marginalised (solvers/transformer/marginal.py)."""

from __future__ import annotations

import pytest
import torch
from helpers.sequences import make_sequence_puzzle, search_case

from reassembly.kernel import PieceStack
from reassembly.scoring import score
from solvers.rows import evaluator
from solvers.transformer import TransformerSolver
from solvers.transformer.circuits import match_circuits
from solvers.transformer.marginal import MarginalSweeps, first_weights
from solvers.transformer.realign import Realign
from solvers.transformer.relink import mixed_gains_forward, round_gains
from solvers.transformer.softassign import SoftAssign
from solvers.transformer.start import best_start, plan
from solvers.transformer.units import UnitHypotheses

#: A constructed network on which the fit converges (on 3 of 9 seeds and depths tried it does not, and
#: the judge then prefers a wrong exchange: why the solver keeps the stage's result only where it
#: lowers the exact loss).
SIZES = {"depth": 5, "d": 24, "h": 32, "heads": 6, "kv": 2, "rows": 8, "length": 6, "seed": 1}


@pytest.fixture(scope="module")
def llama():
    return search_case("llama", **SIZES)


def _one_hot(truth: torch.Tensor, cols: tuple[int, ...], G: int) -> list[torch.Tensor]:
    return [torch.nn.functional.one_hot(truth[:, c], G).double() - 1.0 / G for c in cols]


def test_one_hot_gain_mixtures_from_a_cached_state_are_the_network(llama):
    _, _, groups, ev, truth = llama
    cols = groups.singles[0]
    G = ev.stack.tensors[ev.stack.slots[cols[0]]].weight.shape[0]
    states = ev.states(truth)
    weights = _one_hot(truth, cols, G)
    torch.testing.assert_close(mixed_gains_forward(ev, truth, groups, weights), states[-1])
    torch.testing.assert_close(mixed_gains_forward(ev, truth, groups, weights, 2, states[2]), states[-1])
    assert (round_gains(truth.flip(0), groups, weights)[:, list(cols)] == truth[:, list(cols)]).all()


def test_sweeps_put_an_exchanged_pair_of_components_back(llama):
    puzzle, answer, groups, ev, truth = llama
    vo = next(k for k in groups.kinds if {ev.stack.slots[c] for c in k} == {"v", "o"})
    cols = list(groups.singles[0])
    arr = truth.clone()
    arr[[[1], [2]], [list(vo)]] = truth[[[2], [1]], [list(vo)]]  # V/O of positions 1 and 2 exchanged
    arr[:, cols] = truth[:, cols].flatten().roll(3).reshape(truth.shape[0], len(cols))  # every gain misplaced
    assert not score(puzzle, ev.stack.assembly(arr, ()), answer).exact
    new, details = MarginalSweeps(steps=150).run(ev, arr, groups, ev.clock() + 600)
    assert details["exchanges"] == [[1, ["o", "v"]]]
    components = [c for k in groups.kinds for c in k]
    assert (new[:, components] == truth[:, components]).all()
    assert float(ev.run(new[None])[0]) < float(ev.run(arr[None])[0])  # the gains rounded from the fit help


def test_the_truth_is_left_alone(llama):
    _, _, groups, ev, truth = llama
    new, details = MarginalSweeps(steps=150).run(ev, truth, groups, ev.clock() + 600)
    assert details["exchanges"] == [] and details["sweeps"] == 1
    assert (new == truth).all()


def test_the_stage_keeps_to_its_share_of_the_time(llama):
    _, _, groups, ev, truth = llama
    arr = truth.clone()
    arr[[0, 1]] = truth[[1, 0]]
    new, details = MarginalSweeps(steps=5).run(ev, arr, groups, ev.clock())  # no time left
    assert details["stop"] == "time" and details["exchanges"] == []
    components = [c for k in groups.kinds for c in k]
    assert (new[:, components] == arr[:, components]).all()


def test_a_column_start_mixes_each_slot_over_its_own_column(llama):
    _, _, groups, ev, truth = llama
    cols, D = groups.singles[0], truth.shape[0]
    G = ev.stack.tensors[ev.stack.slots[cols[0]]].weight.shape[0]
    uniform, column = first_weights(truth, groups, G, "best", torch.float64)
    assert (uniform == 0).all()  # offsets from the uniform mixture
    for i, c in enumerate(cols):
        mix = column[i] + 1.0 / G
        torch.testing.assert_close(mix.sum(-1), torch.ones(D, dtype=torch.float64))
        assert set(mix[0].nonzero().flatten().tolist()) == set(truth[:, c].tolist())


def test_the_best_of_two_starts_keeps_the_lower_fit(llama):
    _, _, groups, ev, truth = llama
    arr = truth.clone()
    arr[[0, 1]] = truth[[1, 0]]
    one = MarginalSweeps(steps=20).run(ev, arr, groups, ev.clock() + 600)[1]
    both = MarginalSweeps(steps=20, init="best").run(ev, arr, groups, ev.clock() + 600)[1]
    assert len(one["first_losses"]) == 1 and len(both["first_losses"]) == 2
    assert both["first_losses"][0] == pytest.approx(one["first_loss"])  # the uniform start, as the default
    assert both["first_loss"] == min(both["first_losses"])


def test_the_stage_applies_only_where_gains_can_be_mixed(llama):
    _, _, groups, ev, _ = llama
    assert MarginalSweeps(steps=150).applies(ev, groups)
    assert MarginalSweeps(steps=150).applies(ev, groups)
    assert not MarginalSweeps().applies(ev, groups)  # off by default
    puzzle, _ = make_sequence_puzzle("bert", depth=3, d=16, h=24, heads=4, rows=4, length=5, seed=0)
    bert_groups, _ = plan(puzzle, match_circuits(puzzle))
    assert not MarginalSweeps(steps=150).applies(
        evaluator(puzzle, PieceStack(puzzle, torch.float64), (), None, 0), bert_groups
    )


def test_solver_reports_the_stage(llama):
    puzzle, answer, _, _, _ = llama
    on = MarginalSweeps(steps=150)
    alone = {"units": UnitHypotheses(unsure=0), "realign": Realign(rounds=0)}  # the probe would finish first
    result = TransformerSolver(marginal=on, time_limit=120, **alone).solve(puzzle)
    assert score(puzzle, result.assembly, answer).exact
    stage = next(s for s in result.stages if s.stage == "marginal")
    assert stage.details["sweeps"] >= 1 and stage.mse is not None and "kept" in stage.details
    # off by default
    off = TransformerSolver(time_limit=120).solve(puzzle)
    assert not any(s.stage == "marginal" for s in off.stages)


def _reversed_components(arr: torch.Tensor, groups) -> torch.Tensor:
    components = [c for k in groups.kinds for c in k]
    new = arr.clone()
    new[:, components] = arr.flip(0)[:, components]
    return new


class _Worse(MarginalSweeps):
    """A stage whose result is its start with every component's order reversed."""

    def run(self, ev, arr, groups, deadline, clock=None):
        return _reversed_components(arr, groups), {"exchanges": []}


def test_a_stage_that_raises_the_exact_loss_is_not_kept(llama):
    puzzle, answer, _, _, _ = llama
    solver = TransformerSolver(
        marginal=_Worse(steps=150), units=UnitHypotheses(unsure=0), softassign=SoftAssign(steps=0), time_limit=120
    )
    _, groups, options, ev, _ = solver.prepare(puzzle)
    start = best_start(ev, options)[0]
    start_loss = float(ev.run(start[None])[0])
    assert float(ev.run(_reversed_components(start, groups)[None])[0]) > start_loss
    result = solver.solve(puzzle)
    stage = next(s for s in result.stages if s.stage == "marginal")
    assert stage.details["kept"] is False and stage.mse > start_loss
    search = next(s for s in result.stages if s.stage == "search")
    assert search.details["history"][0] == pytest.approx(start_loss, rel=1e-5)  # the search began from the start
    assert score(puzzle, result.assembly, answer).exact
