"""Window permutations with the norm gains refitted after each (solvers/transformer/realign.py)."""

from __future__ import annotations

import pytest
import torch
from helpers.sequences import search_case

from reassembly.kernel import Evaluator, PieceStack
from solvers.transformer.realign import Realign
from solvers.transformer.search import LocalSearch
from solvers.transformer.softassign import SoftAssign

SIZES = {"depth": 5, "d": 24, "h": 32, "heads": 6, "kv": 2, "rows": 4, "length": 6, "seed": 4}


@pytest.fixture(scope="module")
def llama():
    _, _, groups, ev, truth = search_case("llama", **SIZES)
    return groups, ev, truth


@pytest.fixture(scope="module", params=["float64", "float32"])
def either(request):
    """The case evaluated in float64 (the tests') and in float32 (the solver's default)."""
    puzzle, _, groups, ev, truth = search_case("llama", **SIZES)
    if request.param == "float32":
        ev = Evaluator(PieceStack(puzzle, torch.float32), ev.head, ev.X, ev.target)
    return groups, ev, truth


def _tail_wrong(truth: torch.Tensor, groups) -> torch.Tensor:
    """``truth`` with one kind of the last four positions reversed and the other kinds of the last
    two exchanged (a compound error no single exchange repairs)."""
    D, wrong = truth.shape[0], truth.clone()
    one, *others = [list(k) for k in groups.kinds]
    wrong[D - 4 :, one] = truth[D - 4 :, one].flip(0)
    rest = [c for k in others for c in k]
    wrong[D - 2, rest], wrong[D - 1, rest] = truth[D - 1, rest], truth[D - 2, rest]
    return wrong


def test_a_warm_refit_keeps_a_right_placement(llama):
    groups, ev, truth = llama
    new, details = SoftAssign(steps=20, every=5).run(ev, truth, groups, ev.clock() + 60, warm=50.0)
    assert torch.equal(new, truth) and min(details["roundings"]) == pytest.approx(0.0, abs=1e-9)


def test_the_stage_repairs_the_tail_and_only_lowers_the_loss(llama):
    groups, ev, truth = llama
    stage, search, fit = Realign(rounds=3, probe=0), LocalSearch(permute=4), SoftAssign(steps=20, every=5)
    assert stage.applies(ev, groups, search, fit)
    wrong = _tail_wrong(truth, groups)
    new, details = stage.run(ev, wrong, groups, search, fit, ev.clock() + 60)
    assert torch.equal(new, truth)  # one round: the window put right (the refit keeps the right gains)
    losses = details["losses"]
    assert losses[0] > 0 and losses[-1] == pytest.approx(0.0, abs=1e-9)
    assert all(b < a for a, b in zip(losses, losses[1:])) and len(losses) == len(details["refits_kept"]) + 1
    # gains moved too: the rounds still end lower, with every piece placed once
    cols = list(groups.singles[0])
    both = wrong.clone()
    both[0, cols[0]], both[1, cols[0]] = wrong[1, cols[0]], wrong[0, cols[0]]
    moved, more = stage.run(ev, both, groups, search, fit, ev.clock() + 60)
    assert more["losses"][-1] < more["losses"][0]
    assert sorted(moved[:, cols].flatten().tolist()) == sorted(truth[:, cols].flatten().tolist())


class _Recording(LocalSearch):
    """A search that records which windows the stage asks for."""

    def best_window(self, ev, arr, groups, p, states, deadline, log=None, *screen):
        self.asked.append(p)
        return super().best_window(ev, arr, groups, p, states, deadline, log, *screen)


def test_each_round_takes_the_search_s_window_from_the_end(llama):
    groups, ev, truth = llama
    D = truth.shape[0]
    search = _Recording(permute=4)
    search.asked = []
    # the truth (with a floor below its loss, so that the stage looks): no window is lower, the
    # scan runs every window from the end backwards and nothing changes
    new, details = Realign(probe=0).run(ev, truth, groups, search, SoftAssign(steps=5), ev.clock() + 60, floor=-1.0)
    assert search.asked == list(range(D - 4, -1, -1)) and torch.equal(new, truth) and details["windows"] == []
    # the tail wrong: the last window is taken first
    search.asked = []
    _, details = Realign(probe=0).run(
        ev, _tail_wrong(truth, groups), groups, search, SoftAssign(steps=5), ev.clock() + 60
    )
    assert search.asked[0] == D - 4 and details["windows"][0] == D - 4


def test_the_stage_is_off_without_rounds_windows_or_time(llama):
    groups, ev, truth = llama
    search, fit = LocalSearch(permute=4), SoftAssign(steps=5)
    assert not Realign(rounds=0).applies(ev, groups, search, fit)
    assert not Realign().applies(ev, groups, LocalSearch(permute=0), fit)
    assert not Realign().applies(ev, groups, search, SoftAssign(steps=0))
    wrong = _tail_wrong(truth, groups)
    same, details = Realign().run(ev, wrong, groups, search, fit, ev.clock() - 1)
    assert torch.equal(same, wrong) and len(details["losses"]) == 1 and details["refits_kept"] == []


def test_a_probe_that_finishes_skips_the_windows_and_one_that_does_not_is_dropped(llama):
    groups, ev, truth = llama
    cols = list(groups.singles[0])
    near = truth.clone()  # two gains exchanged: a local error the search repairs at once
    near[0, cols[0]], near[1, cols[0]] = truth[1, cols[0]], truth[0, cols[0]]
    search = _Recording(permute=4)
    search.asked = []
    new, details = Realign(probe=0.5).run(ev, near, groups, search, SoftAssign(steps=5), ev.clock() + 60, floor=1e-9)
    assert torch.equal(new, truth) and details["probe"] <= 1e-9 and search.asked == [] and details["windows"] == []
    # a probe without time ends where it began, above zero: dropped, and the windows run as before
    wrong = _tail_wrong(truth, groups)
    _, details = Realign(probe=1e-12).run(ev, wrong, groups, search, SoftAssign(steps=5), ev.clock() + 60, floor=1e-9)
    assert (
        details["probe"] > 1e-9
        and search.asked[0] == truth.shape[0] - 4
        and details["windows"][0] == truth.shape[0] - 4
    )


def test_a_probe_that_lowers_the_loss_is_kept_where_no_window_does(llama):
    groups, ev, truth = llama
    cols = list(groups.singles[0])
    near = truth.clone()  # two gains exchanged: the probe repairs them, no window permutation does
    near[0, cols[0]], near[1, cols[0]] = truth[1, cols[0]], truth[0, cols[0]]
    search = _Recording(permute=4)
    search.asked = []
    # a floor below every loss: the probe never "finishes", the scan runs every window and takes none
    new, details = Realign(probe=0.5).run(ev, near, groups, search, SoftAssign(steps=5), ev.clock() + 60, floor=-1.0)
    # (the probe's own search asks for windows too, at its local optima; the stage's scan comes last)
    assert details["windows"] == [] and search.asked[-2:] == list(range(truth.shape[0] - 4, -1, -1))
    assert details["losses"][-1] == details["probe"] < details["losses"][0]
    assert float(ev.run(new[None])[0]) == pytest.approx(details["probe"], rel=1e-6) and torch.equal(new, truth)


def test_a_screened_window_is_judged_on_every_row_and_its_work_counts(either):
    groups, ev, truth = either
    search, wrong = LocalSearch(permute=4), _tail_wrong(truth, groups)
    states = ev.states(wrong)
    D = truth.shape[0]
    exact, exact_loss = search.best_window(ev, wrong, groups, D - 4, states, ev.clock() + 60)
    screen = ev.first_rows(1)
    w0, e0, sw0 = ev.clock(), ev.evaluations, screen.work
    cand, loss = search.best_window(ev, wrong, groups, D - 4, states, ev.clock() + 60, None, screen, 4)
    # the screen's work and evaluations are on the stage's clock, and the loss returned is on every row
    assert screen.work > sw0 and ev.clock() - w0 >= screen.work - sw0 and ev.evaluations - e0 > 4
    assert loss == pytest.approx(float(ev.run(cand[None])[0]), rel=1e-6)
    assert torch.equal(cand, exact) and torch.equal(cand, truth) and loss == pytest.approx(exact_loss, rel=1e-6)


def test_carried_moves_put_an_exchanged_sublayer_back_before_any_window(llama):
    groups, ev, truth = llama
    attention = list(groups.sublayers[0])  # a norm gain with the components it feeds
    wrong = truth.clone()
    wrong[1, attention], wrong[2, attention] = truth[2, attention], truth[1, attention]
    search = _Recording(permute=4)
    search.asked = []
    new, details = Realign(probe=0, carry=1).run(
        ev, wrong, groups, search, SoftAssign(steps=5), ev.clock() + 60, floor=1e-9
    )
    assert torch.equal(new, truth) and details["carried"] == 1 and details["windows"] == [] and search.asked == []
    # off: no carried move is taken
    new, details = Realign(probe=0, carry=0, rounds=1).run(
        ev, wrong, groups, search, SoftAssign(steps=5), ev.clock() + 60
    )
    assert details["carried"] == 0
