"""Whole attention sublayers by their weights, and the least sure attention-to-MLP links tried both
ways (solvers/transformer/units.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers.sequences import search_case

from solvers.transformer import TransformerSolver
from solvers.transformer.units import UnitHypotheses, place_along, zscored

SIZES = {"depth": 5, "d": 24, "h": 32, "heads": 6, "kv": 2, "rows": 4, "length": 6, "seed": 1}


@pytest.fixture(scope="module")
def llama():
    return search_case("llama", **SIZES)


def test_zscored_centres_and_scales_the_off_diagonal():
    sim = np.random.default_rng(0).normal(size=(7, 7)) * 3 + 5
    z = zscored(sim)
    off = z[~np.eye(7, dtype=bool)]
    assert abs(off.mean()) < 1e-12 and abs(off.std() - 1) < 1e-12


def test_place_along_recovers_a_planted_order_from_either_signal():
    rng = np.random.default_rng(1)
    n, order = 9, rng.permutation(9)  # item order[p] belongs at position p
    fits = np.full((n, n), -1.0)
    fits[order, np.arange(n)] = 1.0
    assert place_along(fits, np.zeros((n, n))) == order.tolist()
    # one exchange from the identity, the path alone repairs it (its direction set by one read)
    near = np.array([0, 1, 3, 2, 4, 5, 6, 7, 8])
    neighbours = np.zeros((n, n))
    neighbours[near[:-1], near[1:]] = neighbours[near[1:], near[:-1]] = 1.0
    one = np.zeros((n, n))
    one[near[0], 0] = 1.0
    assert place_along(one, 2 * neighbours) == near.tolist()


def test_the_stage_races_every_combination_and_goes_on_from_the_lowest(llama):
    puzzle, _, groups, ev, truth = llama
    stage = UnitHypotheses(unsure=2, share_gains=False)  # the race alone (its judge: the fake search's losses)
    assert stage.applies(ev, groups) and not UnitHypotheses(unsure=0).applies(ev, groups)
    _, vo, _ = stage._kinds(ev, groups)
    pairs = sorted(np.argsort(stage.margins(puzzle, ev, truth, groups))[:1].tolist())
    seen: list[torch.Tensor] = []

    def search(a: torch.Tensor, until: float) -> tuple[torch.Tensor, float]:
        seen.append(a)
        flipped = bool((a[pairs[0], list(vo)] != truth[pairs[0], list(vo)]).any())
        return a, 0.5 if flipped else 1.0 + len(seen)  # a judge that prefers the least sure pair exchanged

    new, details = stage.run(puzzle, ev, truth, groups, search, ev.clock() + 10)
    # successive halving: all four searched, then the better two go on from where they ended
    assert len(seen) == 6 and len(details["pairs"]) == 2 and details["pairs"][0] == pairs[0]
    assert all(any(a is b for b in seen[:4]) for a in seen[4:])
    assert all(bool((a[pairs[0], list(vo)] != truth[pairs[0], list(vo)]).any()) for a in seen[4:])
    assert len(details["seconds_each"]) == 2 and details["seconds_each"][1] > details["seconds_each"][0]
    assert all(abs(a - b) > 1 for a in details["pairs"] for b in details["pairs"] if a != b)  # no overlap
    p = pairs[0]
    assert (new[[p, p + 1]][:, list(vo)] == truth[[p + 1, p]][:, list(vo)]).all()
    assert details["losses"][details["chosen"]] == 0.5
    # an arrangement whose search reaches the floor ends the stage: the rest are not tried
    seen.clear()
    _, details = stage.run(puzzle, ev, truth, groups, search, ev.clock() + 10, floor=0.5)
    assert len(seen) == 3 and details["chosen"] == 2 and details["losses"][3] is None


def test_each_arrangement_takes_the_gains_that_fit_it_best(llama):
    puzzle, _, groups, ev, truth = llama
    cols = [c for pool in groups.singles for c in pool]
    _, vo, _ = UnitHypotheses()._kinds(ev, groups)
    loss = lambda a: float(ev.run(a[None])[0])  # noqa: E731
    scrambled = truth.clone()
    flat = truth[:, cols].flatten()
    scrambled[:, cols] = flat.roll(1).reshape(len(truth), len(cols))  # every gain one place on
    wrong = truth.clone()  # the right gains, two layers' V/O exchanged
    wrong[0, list(vo)], wrong[1, list(vo)] = truth[1, list(vo)], truth[0, list(vo)]
    mixed = wrong.clone()  # the wrong components with the scrambled gains: taken only where lower
    mixed[:, cols] = scrambled[:, cols]
    ends = [(scrambled, loss(scrambled)), (wrong, loss(wrong)), (truth, float("inf"))]  # the last: not searched
    taken = UnitHypotheses.pool_gains(ev, ends, [0, 1], groups)
    # the scrambled gains go (the right ones fit the right components exactly); the components stay
    # each arrangement's own; an arrangement not searched yet gives nothing
    assert torch.equal(ends[0][0], truth) and ends[0][1] == pytest.approx(loss(truth), abs=1e-9)
    second = mixed if loss(mixed) < loss(wrong) else wrong
    assert torch.equal(ends[1][0], second) and taken == 1 + (second is mixed)
    assert UnitHypotheses.pool_gains(ev, ends[:1], [0], groups) == 0  # no other arrangement to take from


def test_the_solver_runs_the_stage_where_asked(llama):
    puzzle, _, _, _, _ = llama
    result = TransformerSolver(units=UnitHypotheses(unsure=1), time_limit=20).solve(puzzle)
    stage = next(s for s in result.stages if s.stage == "units")
    assert len(stage.details["losses"]) == 2 and stage.details["kept"]
    if stage.mse <= 1e-9 * float(puzzle.pred.pow(2).mean()):  # at the floor: no stage after it runs
        assert [s.stage for s in result.stages] == ["circuits", "start", "units", "search"]
    off = TransformerSolver(units=UnitHypotheses(unsure=0), time_limit=5).solve(puzzle)
    assert all(s.stage != "units" for s in off.stages)
