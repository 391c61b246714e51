"""Norm gains along their similarity chains, then windows by data (solvers/transformer/chains.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers.sequences import search_case

from solvers.transformer import TransformerSolver
from solvers.transformer.chains import GainChains, chain_order, gain_similarity, split_kinds
from solvers.transformer.moves import carried_moves
from solvers.transformer.units import UnitHypotheses

SIZES = {"depth": 5, "d": 24, "h": 32, "heads": 6, "kv": 2, "rows": 4, "length": 6, "seed": 4}


@pytest.fixture(scope="module")
def llama():
    _, _, groups, ev, truth = search_case("llama", **SIZES)
    return groups, ev, truth


def _chains(n: int, d: int = 16, seed: int = 0) -> tuple[torch.Tensor, np.ndarray]:
    """Two kinds of ``n`` gains each, every kind a random walk (neighbours alike), shuffled; and
    each gain's kind."""
    rng = np.random.default_rng(seed)
    walks = [np.cumsum(rng.normal(size=(n, d)), 0) + 10 * rng.normal(size=d) for _ in range(2)]
    kind = np.repeat([0, 1], n)
    order = rng.permutation(2 * n)
    return torch.as_tensor(np.concatenate(walks)[order]), kind[order]


def test_the_split_separates_two_chains():
    pool, kind = _chains(12)
    a, b = split_kinds(gain_similarity(pool))
    assert len(a) == len(b) == 12 and sorted([*a, *b]) == list(range(24))
    assert len(set(kind[a])) == 1 and len(set(kind[b])) == 1 and kind[a[0]] != kind[b[0]]


def test_the_chain_term_orders_what_the_links_cannot():
    rng = np.random.default_rng(1)
    n = 10
    walk = np.cumsum(rng.normal(size=(n, 16)), 0)
    label = rng.permutation(n)  # item label[k] is the walk's step k
    items = np.empty_like(walk)
    items[label] = walk
    sim = gain_similarity(torch.as_tensor(items))
    links = np.zeros((n, n))
    links[0, label[0]] = links[n - 1, label[n - 1]] = 5.0  # only the ends are told
    perm = chain_order(links, sim, chain=1.0)
    assert perm.tolist() == label.tolist()  # the walk's own order between the told ends
    # without the chain term the middle is left to the assignment's ties: not the walk's order
    assert chain_order(links, sim, chain=0.0).tolist() != label.tolist()


def test_the_stage_places_shuffled_gains_and_only_lowers_the_loss(llama):
    groups, ev, truth = llama
    stage = GainChains(steps=1000, share=1.0, rate=1.0)
    assert stage.applies(ev, groups) and not GainChains(steps=0).applies(ev, groups)
    cols = list(groups.singles[0])
    wrong = truth.clone()
    flat = torch.cat([truth[:, c] for c in cols])
    flat = flat[torch.as_tensor(np.random.default_rng(0).permutation(len(flat)))]
    wrong[:, cols[0]], wrong[:, cols[1]] = flat[: len(truth)], flat[len(truth) :]
    new, details = stage.run(ev, wrong, groups, ev.clock() + 60, floor=1e-9)
    losses = details["losses"]
    assert losses[0] > 1e-6 and all(b <= a for a, b in zip(losses, losses[1:]))
    assert details["moves"] > 0 and float(ev.run(new[None])[0]) == pytest.approx(losses[-1])
    assert torch.equal(new, truth)  # the components held, every gain at its place
    others = [c for c in range(truth.shape[1]) if c not in cols]
    assert torch.equal(new[:, others], wrong[:, others])


def test_a_slow_pass_ends_the_search(llama):
    groups, ev, truth = llama
    cols = list(groups.singles[0])
    wrong = truth.clone()
    wrong[:, cols[0]] = truth[:, cols[1]]  # the two slots' gains exchanged: more than one pass to repair
    wrong[:, cols[1]] = truth[:, cols[0]]
    run = lambda rate: GainChains(steps=1000, share=1.0, rate=rate, reach=0).run(  # noqa: E731
        ev, wrong, groups, ev.clock() + 60, floor=1e-9
    )[1]["losses"]
    patient, hasty = run(1.0), run(0.0)
    assert len(patient) > 2 and patient[1] > 1e-9  # the first pass does not finish
    assert hasty == patient[:2]  # the same first pass, then it stops: the loss did not vanish


def test_a_slow_first_pass_judges_the_components_and_gives_back_the_start(llama):
    groups, ev, truth = llama
    cols = list(groups.singles[0])
    wrong = truth.clone()
    wrong[:, cols[0]], wrong[:, cols[1]] = truth[:, cols[1]], truth[:, cols[0]]
    run = lambda judge: GainChains(steps=1000, share=1.0, rate=0.0, reach=0, judge=judge).run(  # noqa: E731
        ev, wrong, groups, ev.clock() + 60, floor=1e-9
    )
    (kept, moved), (given, judged) = run(False), run(True)
    assert moved["losses"] == judged["losses"] and judged["moves"] > 0  # the same first pass
    assert float(ev.run(kept[None])[0]) < float(ev.run(wrong[None])[0])  # it did lower the loss
    assert torch.equal(given, wrong) and judged["judged"] == "wrong"
    # one pass that repairs every gain is not slow: the stage returns what it found
    near = truth.clone()
    near[1, cols[0]], near[2, cols[0]] = truth[2, cols[0]], truth[1, cols[0]]
    right, details = GainChains(steps=1000, share=1.0, rate=0.0, reach=0, judge=True).run(
        ev, near, groups, ev.clock() + 60, floor=1e-9
    )
    assert torch.equal(right, truth) and details["judged"] == "right"


def test_carried_moves_exchange_whole_layers_and_sublayers_with_their_gains(llama):
    groups, ev, truth = llama
    D, S = truth.shape
    units = [list(range(S))] + [list(sub) for sub in groups.sublayers]
    assert any(set(sub) & set(groups.singles[0]) for sub in groups.sublayers)  # a sublayer holds its norm gain
    for p, reach in ((0, 2), (D - 2, 2), (1, 1)):
        moves, starts = carried_moves(truth, groups, p, reach)
        partners = range(p + 1, min(p + reach, D - 1) + 1)
        assert len(moves) == len(partners) * len(units) and (starts == p).all()
        for m, (q, cols) in zip(moves, [(q, c) for q in partners for c in units]):
            changed = (m != truth).nonzero()[:, 0].unique().tolist()
            assert changed == [p, q]
            assert torch.equal(m[p, cols], truth[q, cols]) and torch.equal(m[q, cols], truth[p, cols])
            rest = [c for c in range(S) if c not in cols]
            assert torch.equal(m[:, rest], truth[:, rest])


def test_after_a_slow_pass_carried_moves_put_an_exchanged_sublayer_back(llama):
    groups, ev, truth = llama
    attention = list(groups.sublayers[0])
    wrong = truth.clone()
    wrong[1, attention], wrong[2, attention] = truth[2, attention], truth[1, attention]  # gains go along
    assert float(ev.run(wrong[None])[0]) > 1e-6

    def run(reach: int) -> tuple[torch.Tensor, dict]:
        stage = GainChains(steps=1000, share=1.0, rate=0.0, reach=reach)
        return stage.run(ev, wrong, groups, ev.clock() + 60, floor=1e-9)

    held, details = run(0)
    others = [c for c in range(truth.shape[1]) if c not in groups.singles[0]]
    assert torch.equal(held[:, others], wrong[:, others]) and "carried" in details  # gains alone move
    new, details = run(2)
    assert torch.equal(new, truth) and details["carried"] >= 1


def test_the_stage_keeps_a_right_placement(llama):
    groups, ev, truth = llama
    new, details = GainChains(steps=1000).run(ev, truth, groups, ev.clock() + 60, floor=1e-9)
    assert torch.equal(new, truth) and details["start"] == "own" and details["moves"] == 0


def test_the_solver_runs_the_stage_after_softassign_only_when_asked():
    puzzle = search_case("llama", **SIZES)[0]
    floor = 1e-9 * float(puzzle.pred.pow(2).mean())
    quick = {"units": UnitHypotheses(unsure=0), "time_limit": 20}
    on = TransformerSolver(chains=GainChains(steps=100), **quick).solve(puzzle).stages
    names = [s.stage for s in on]
    assert names[:2] == ["circuits", "start"] and on[1].mse > floor  # something left for the stages
    chains = next(s for s in on if s.stage == "chains")
    assert chains.details["moves"] >= 0 and "kept" in chains.details
    after = [n for n in ("softassign", "realign") if n in names]
    assert all((names.index(n) < names.index("chains")) == (n == "softassign") for n in after)
    assert "chains" not in [s.stage for s in TransformerSolver(**quick).solve(puzzle).stages]  # off by default
