"""The relaxed layer and the relaxed linking of the ``transformer`` solver (solvers/transformer/relink.py)."""

from __future__ import annotations

import pytest
import torch
from helpers.sequences import make_sequence_puzzle, search_case

from reassembly.families.base import Mixture
from reassembly.kernel import PieceStack
from reassembly.scoring import score
from solvers.rows import evaluator
from solvers.transformer import TransformerSolver
from solvers.transformer.circuits import match_circuits
from solvers.transformer.realign import Realign
from solvers.transformer.relink import Relink, mixed_kinds, relaxed_linking, relaxed_output
from solvers.transformer.start import plan
from solvers.transformer.units import UnitHypotheses

SIZES = {"depth": 4, "d": 24, "h": 32, "heads": 6, "kv": 2, "rows": 8, "length": 6, "seed": 3}


@pytest.fixture(scope="module")
def llama():
    return search_case("llama", **SIZES)


def test_one_hot_mixtures_are_the_layer(llama):
    _, _, _, ev, truth = llama
    stack, fam = ev.stack, ev.family
    q, k, v, o = (stack.tensors[s].weight[truth[:, stack.slots.index(s)]] for s in ("q", "k", "v", "o"))
    pool = stack.tensors["attn_norm"].weight
    D, G = truth.shape[0], pool.shape[0]
    for p in range(D):
        hot = torch.nn.functional.one_hot(torch.tensor(p), D).double()
        gains = tuple(
            torch.nn.functional.one_hot(truth[p, stack.slots.index(s)], G).double() for s in ("attn_norm", "mlp_norm")
        )
        mix = Mixture({"qk": (q, k), "vo": (v, o)}, {"qk": hot, "vo": hot}, pool, gains)
        params = stack.at(truth[p].tolist())
        torch.testing.assert_close(fam.mixed_layer(params, ev.X, mix), fam.layer(params, ev.X))
        wrong = Mixture({"qk": (q, k), "vo": (v, o)}, {"qk": hot.roll(1), "vo": hot}, pool, gains)
        assert not torch.allclose(fam.mixed_layer(params, ev.X, wrong), fam.layer(params, ev.X))


def test_relaxed_output_at_the_truth_is_the_network(llama):
    _, _, groups, ev, truth = llama
    kinds = mixed_kinds(ev, groups)
    D, G = truth.shape[0], ev.stack.tensors["attn_norm"].weight.shape[0]
    eye = torch.eye(D, dtype=torch.float64)
    free = [eye - 1.0 / D for _ in kinds]  # component j sits at position j already
    free += [torch.nn.functional.one_hot(truth[:, c], G).double() - 1.0 / G for c in groups.singles[0]]
    torch.testing.assert_close(relaxed_output(ev, truth, groups, kinds, free), ev.output(ev.states(truth)[-1]))


def test_gains_fit_puts_scrambled_gains_back(llama):
    puzzle, answer, groups, ev, truth = llama
    cols = list(groups.singles[0])
    arr = truth.clone()
    arr[:, cols] = truth[:, cols].flatten().roll(3).reshape(truth.shape[0], len(cols))
    assert not score(puzzle, ev.stack.assembly(arr, ()), answer).exact
    new, loss = relaxed_linking(ev, arr, groups, 60, kinds=False)
    assert (new[:, cols] == truth[:, cols]).all()
    assert (
        new[:, [c for c in range(arr.shape[1]) if c not in cols]]
        == arr[:, [c for c in range(arr.shape[1]) if c not in cols]]
    ).all()


def test_relink_does_not_apply_to_families_without_a_relaxed_layer():
    puzzle, _ = make_sequence_puzzle("bert", depth=3, d=16, h=24, heads=4, rows=4, length=5, seed=0)
    groups, _ = plan(puzzle, match_circuits(puzzle))
    ev = evaluator(puzzle, PieceStack(puzzle, torch.float64), (), None, 0)
    assert not Relink(iterations=100).applies(ev, groups)


def test_solver_reports_the_relink_stage(llama):
    puzzle, answer, _, _, _ = llama
    # the realign stage off: on this puzzle it reaches zero loss first, and no stage runs after that
    result = TransformerSolver(
        relink=Relink(iterations=100), units=UnitHypotheses(unsure=0), realign=Realign(rounds=0), time_limit=120
    ).solve(puzzle)
    assert score(puzzle, result.assembly, answer).exact
    stage = next(s for s in result.stages if s.stage == "relink")
    assert len(stage.details["direction_losses"]) == 2
    # Off by default: no relink stage.
    assert not any(s.stage == "relink" for s in TransformerSolver(time_limit=120).solve(puzzle).stages)


def test_sublayers_pair_each_norm_with_the_components_it_feeds():
    from solvers.transformer.moves import sublayers

    # llama: attn_norm q k v o mlp_norm gate up down (pre-norm: the norm comes first)
    llama = sublayers(((1, 2), (3, 4), (6, 7, 8)), ((0, 5),), 9)
    assert llama == ((0, 1, 2, 3, 4), (5, 6, 7, 8))
    # bert: q k v o attn_norm inp out out_norm (post-norm: the norm comes after)
    bert = sublayers(((0, 1), (2, 3), (5, 6)), ((4, 7),), 8)
    assert bert == ((0, 1, 2, 3, 4), (5, 6, 7))


def test_sublayer_exchanges_are_a_neighbourhood_of_their_own(llama):
    from solvers.transformer.moves import moves_at

    _, _, groups, _, truth = llama
    assert "sublayer" not in {label for label, _ in moves_at(truth, groups, 0, 3, rotate=True)}
    moves = moves_at(truth, groups, 0, 3, sublayer=True)
    assert {label for label, _ in moves} == {"sublayer"}
    exchanges = [cands for _, cands in moves]
    assert len(exchanges) == len(groups.sublayers) == 2
    cols = list(groups.sublayers[0])
    first = exchanges[0][0]
    assert (first[0, cols] == truth[1, cols]).all() and (first[1, cols] == truth[0, cols]).all()
    rest = [c for c in range(truth.shape[1]) if c not in cols]
    assert (first[:, rest] == truth[:, rest]).all()


def test_search_certifies_a_local_optimum_that_no_move_improves(llama):
    """With a target no arrangement reaches, the search stops at a local optimum and says so; checked
    here independently: no move of any neighbourhood, from any position, lowers its loss."""

    import numpy as np

    from solvers.transformer.moves import moves_at
    from solvers.transformer.search import LocalSearch

    _, _, groups, ev, truth = llama
    noisy = ev.with_rows(
        ev.X,
        ev.target
        + 0.3 * torch.randn(ev.target.shape, generator=torch.Generator().manual_seed(0), dtype=ev.target.dtype),
    )
    search = LocalSearch(patience=1)
    best, loss, log = search.run(noisy, truth, groups, 0.0, noisy.clock() + 120, np.random.default_rng(0))
    assert log.stop == "patience" and log.certified and log.checked > 0
    states = noisy.states(best)
    assert float(noisy.loss(states[-1])) == pytest.approx(loss)
    for p in range(best.shape[0]):
        for rotate, sublayer in ((False, False), (True, False), (False, True)):
            for _, cands in moves_at(best, groups, p, search.window, rotate, sublayer):
                losses = noisy.suffix_losses(cands, torch.full((len(cands),), p), states)
                assert float(losses.min()) >= loss - 1e-12
    assert search.assign(noisy, best, groups, 0.0, noisy.clock() + 60, log)[2] == 0  # nor an assignment move
    assert log.best_neighbour >= loss


def test_a_search_out_of_time_certifies_nothing(llama):

    import numpy as np

    from solvers.transformer.search import LocalSearch

    _, _, groups, ev, truth = llama
    scrambled = truth.flip(0)
    _, loss, log = LocalSearch().run(ev, scrambled, groups, 0.0, ev.clock() - 1, np.random.default_rng(0))
    assert log.stop == "time" and not log.certified and loss > 0
