"""First-order screens of candidate arrangements (solvers/transformer/screen.py)."""

from __future__ import annotations

import pytest
import torch
from helpers.sequences import search_case

from solvers.transformer.screen import Screen

SIZES = {"depth": 4, "d": 24, "h": 32, "heads": 6, "kv": 2, "rows": 8, "length": 6, "seed": 3}


@pytest.fixture(scope="module", params=["llama", "bert"])
def case(request):
    _, _, groups, ev, truth = search_case(request.param, **SIZES)
    return ev, groups, truth


def test_the_arrangement_itself_is_its_loss(case):
    ev, _, truth = case
    wrong = truth.flip(0)
    states = ev.states(wrong)
    screen = Screen(ev, wrong, states, sketch=4, generator=torch.Generator().manual_seed(0))
    assert screen.loss == pytest.approx(float(ev.loss(states[-1])))
    assert float(screen.losses(wrong.unsqueeze(0))[0]) == pytest.approx(screen.loss)


def test_gradient_term_is_the_loss_gradient(case):
    """The linear term of a small change is the exact first-order change (finite differences)."""
    ev, _, truth = case
    arr = truth.flip(0)
    states = ev.states(arr)
    screen = Screen(ev, arr, states, sketch=2, generator=torch.Generator().manual_seed(0))
    t = 1
    step = 1e-6 * torch.randn(states[t + 1].shape, generator=torch.Generator().manual_seed(1), dtype=states.dtype)
    h = states[t + 1] + step
    for row in arr[t + 1 :].tolist():
        h = ev.family.layer(ev.stack.at(row), h)
    change = float(ev.loss(h)) - screen.loss
    assert change == pytest.approx(float(screen.jac[t, 0] @ step.flatten()), rel=1e-3)


def test_estimate_is_gauss_newton(case):
    """A candidate that changes one position: the screen is the loss, plus the gradient term,
    plus ``‖J δ‖² / N`` (here from central differences) up to the sketch's error."""
    ev, groups, truth = case
    arr = truth.flip(0)
    states = ev.states(arr)
    screen = Screen(ev, arr, states, sketch=500, generator=torch.Generator().manual_seed(0))
    t, s = 1, groups.singles[0][0]
    cand = arr.clone()
    cand[t, s] = arr[t + 1, s]
    delta = ev.family.layer(ev.stack.at(cand[t].tolist()), states[t]) - states[t + 1]

    def suffix(h):
        for row in arr[t + 1 :].tolist():
            h = ev.family.layer(ev.stack.at(row), h)
        return ev.output(h)

    eps = 1e-5  # central differences in float64: J δ to about eps²
    jd = (suffix(states[t + 1] + eps * delta) - suffix(states[t + 1] - eps * delta)) / (2 * eps)
    n = ev.target.numel()
    expected = screen.loss + float(screen.jac[t, 0] @ delta.flatten()) + float(jd.pow(2).sum()) / n
    assert float(screen.losses(cand.unsqueeze(0))[0]) == pytest.approx(expected, rel=0.1)
    assert float(jd.pow(2).sum()) / n > 0.01 * abs(expected - screen.loss)  # the quadratic term counts


def test_weighted_errors_are_refused(case):
    ev, _, truth = case
    weighted = ev.with_rows(ev.X, ev.target, transform=lambda e: 2 * e)
    with pytest.raises(ValueError, match="plain squared error"):
        Screen(weighted, truth, weighted.states(truth))
