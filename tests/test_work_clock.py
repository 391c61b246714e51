"""The evaluator's work clock, and the transformer solver's budget read on it (deterministic, not timed)."""

from __future__ import annotations

import threading
import time

import pytest
import torch
from helpers.sequences import search_case

from reassembly.kernel.evaluator import CALL_SECONDS, PARAM_SECONDS
from solvers.transformer import TransformerSolver

SIZES = {"depth": 5, "d": 24, "h": 32, "heads": 6, "kv": 2, "rows": 4, "length": 6, "seed": 4}


@pytest.fixture(scope="module")
def llama():
    puzzle, _, _, ev, truth = search_case("llama", **SIZES)
    return puzzle, ev, truth


def test_the_clock_counts_block_calls_and_state_vectors(llama):
    _, ev, truth = llama
    ev = ev.with_rows(ev.X, ev.target)  # a fresh count
    assert ev.clock() == 0.0
    pieces = [ev.stack.tensors[s] for s in ev.stack.slots]  # one piece of each slot: a block
    assert ev.block_params == sum(p.weight[0].numel() + (0 if p.bias is None else p.bias[0].numel()) for p in pieces)
    states = ev.states(truth)
    D, vectors = truth.shape[0], ev.X.shape[0] * ev.X.shape[1]
    one = D * (CALL_SECONDS + vectors * ev.block_params * PARAM_SECONDS)
    assert ev.clock() == pytest.approx(one)
    # candidates that change only the last position cost one layer each, not the whole network
    cands = truth.expand(3, *truth.shape).clone()
    before = ev.clock()
    ev.suffix_losses(cands, torch.full((3,), D - 1), states)
    late = ev.clock() - before
    before = ev.clock()
    ev.suffix_losses(cands, torch.zeros(3, dtype=torch.long), states)
    assert late < (ev.clock() - before) / 2


def test_an_evaluator_on_the_first_rows_counts_on_the_same_clock(llama):
    _, ev, truth = llama
    ev = ev.with_rows(ev.X, ev.target)
    sub = ev.first_rows(1)
    assert sub.n_rows == 1 and torch.equal(sub.X, ev.X[:1])
    states = ev.states(truth)
    before, evaluations = ev.clock(), ev.evaluations
    losses = sub.suffix_losses(truth[None], torch.zeros(1, dtype=torch.long), states[:, :1])
    # its work and evaluations are on both clocks; a quarter of the rows costs less than all of them
    assert ev.clock() - before == pytest.approx(sub.clock()) and ev.evaluations == evaluations + 1
    assert 0 < sub.clock() < before
    assert float(losses[0]) == pytest.approx(float(ev.with_rows(ev.X[:1], ev.target[:1]).run(truth[None])[0]))


def test_past_its_guard_the_clock_jumps_beyond_every_deadline(llama):
    _, ev, truth = llama
    ev = ev.with_rows(ev.X, ev.target)
    ev.guard = time.monotonic() + 60
    ev.states(truth)
    assert ev.clock() < 1 and not ev.past_guard
    ev.guard = time.monotonic() - 1
    assert ev.clock() > 1e6 and ev.past_guard


def _burn(stop: threading.Event) -> None:
    x = torch.randn(256, 256)
    while not stop.is_set():
        x = torch.tanh(x @ x)


def test_a_budget_on_the_work_clock_gives_the_same_solve_under_load(llama):
    puzzle, _, _ = llama
    # a budget too small to finish: the solve stops on it, mid-search, at the same place each time
    solver = TransformerSolver(time_limit=0.2, wall_limit=300)
    quiet = solver.solve(puzzle)
    stop = threading.Event()
    burner = threading.Thread(target=_burn, args=(stop,))
    burner.start()
    try:
        loaded = solver.solve(puzzle)
    finally:
        stop.set()
        burner.join()
    assert quiet.certificate["kind"] == "time-limit" and not quiet.certificate["wall_guard"]
    assert quiet.certificate["work_seconds"] > 0.2
    assert loaded.assembly == quiet.assembly
    assert loaded.evaluations == quiet.evaluations
    assert loaded.certificate["work_seconds"] == quiet.certificate["work_seconds"]


def test_the_wall_clock_guard_still_bounds_a_solve(llama):
    puzzle, _, _ = llama
    t0 = time.monotonic()
    result = TransformerSolver(time_limit=10**6, wall_limit=0.5).solve(puzzle)
    assert result.certificate["wall_guard"] and result.certificate["work_seconds"] < 10**6
    assert time.monotonic() - t0 < 60
