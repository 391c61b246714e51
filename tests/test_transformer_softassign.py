"""Norm gains placed by a softassign fit that the weights' links start
(solvers/transformer/softassign.py)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from helpers.sequences import search_case

from solvers.transformer import TransformerSolver
from solvers.transformer.moves import Groups
from solvers.transformer.softassign import SoftAssign, link_scores, sinkhorn
from solvers.transformer.units import UnitHypotheses

SIZES = {"depth": 4, "d": 24, "h": 32, "heads": 6, "kv": 2, "rows": 4, "length": 6, "seed": 2}


@pytest.fixture(scope="module")
def llama():
    return search_case("llama", **SIZES)


def test_sinkhorn_makes_a_doubly_stochastic_matrix():
    p = sinkhorn(torch.randn(7, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 3, 200)
    assert torch.allclose(p.sum(0), torch.ones(7, dtype=torch.float64), atol=1e-8)
    assert torch.allclose(p.sum(1), torch.ones(7, dtype=torch.float64), atol=1e-8)
    assert bool((p > 0).all())


def test_link_scores_rank_the_gain_that_grows_with_its_readers_and_writer_first():
    # four layers, two norm slots each; each attention gain's log magnitudes follow the column
    # norms of its own V and the *row* norms of its own O (square, as SmolLM2's: only the slot's
    # role tells its residual side), each MLP gain its own up's column norms (plus noise); the
    # gains sit in the pool shuffled
    g = torch.Generator().manual_seed(3)
    D, d, h = 4, 16, 8
    v, up = torch.randn(D, h, d, generator=g), torch.randn(D, 3 * h, d, generator=g)
    v *= torch.rand(D, 1, d, generator=g) * 3 + 0.1
    up *= torch.rand(D, 1, d, generator=g) * 3 + 0.1
    o = torch.randn(D, d, d, generator=g) * (torch.rand(D, 1, d, generator=g) * 3 + 0.1)  # columns: noise
    o *= (v.pow(2).sum(1).sqrt() / o.pow(2).sum(2).sqrt())[:, :, None]  # rows: the gain's profile
    own = torch.cat([v.pow(2).sum(1).sqrt(), up.pow(2).sum(1).sqrt()])  # (2D, d): slot-major
    where = torch.randperm(2 * D, generator=g)  # where[s * D + p]: the pool index of that slot's gain
    pool = torch.empty(2 * D, d)
    pool[where] = own * torch.exp(0.05 * torch.randn(2 * D, d, generator=g))
    slots = ("attn_norm", "v", "o", "mlp_norm", "up")
    roles = {"attn_norm": "scale", "v": "read", "o": "write", "mlp_norm": "scale", "up": "read"}
    tensors = {"attn_norm": pool, "v": v, "o": o, "mlp_norm": pool, "up": up}
    ev = SimpleNamespace(
        stack=SimpleNamespace(slots=slots, tensors={k: SimpleNamespace(weight=w) for k, w in tensors.items()}),
        family=SimpleNamespace(slots=[SimpleNamespace(name=k, role=r) for k, r in roles.items()]),
    )
    arr = torch.zeros(D, 5, dtype=torch.long)
    arr[:, 1] = arr[:, 2] = arr[:, 4] = torch.arange(D)
    groups = Groups(kinds=((1, 2), (4,)), singles=((0, 3),), flips=())
    scores = link_scores(ev, arr, groups)
    assert scores.shape == (2 * D, 2 * D)
    assert torch.equal(scores.argmax(1), where)
    # the writer alone links the attention gains: read by its rows, not its (noise) columns
    by_o = link_scores(ev, arr, groups, linked=("o",))[:D]
    assert torch.equal(by_o.argmax(1), where[:D])
    # a slot the link does not name counts for nothing: no piece left, every score zero
    assert torch.equal(link_scores(ev, arr, groups, linked=("gate",)), torch.zeros(2 * D, 2 * D, dtype=torch.float64))


def test_the_stage_moves_only_gains_and_returns_its_lowest_rounding(llama):
    _, _, groups, ev, truth = llama
    cols = list(groups.singles[0])
    scrambled = truth.clone()
    scrambled[:, cols] = truth[:, cols].flatten().roll(1).reshape(len(truth), len(cols))
    stage = SoftAssign(steps=30, every=5)
    assert stage.applies(ev, groups) and not SoftAssign(steps=0).applies(ev, groups)
    new, details = stage.run(ev, scrambled, groups, ev.clock() + 60)
    others = [c for c in range(truth.shape[1]) if c not in cols]
    assert torch.equal(new[:, others], scrambled[:, others])  # the components stay
    assert sorted(new[:, cols].flatten().tolist()) == sorted(truth[:, cols].flatten().tolist())  # a placement
    assert details["steps"] == 30 and len(details["roundings"]) == 7  # steps 0, 5, ..., 25 and the last
    assert float(ev.run(new[None])[0]) == pytest.approx(min(details["roundings"]))
    # a deadline already past: no step, the arrangement given back
    same, none = stage.run(ev, scrambled, groups, ev.clock() - 1)
    assert torch.equal(same, scrambled) and none == {"steps": 0, "roundings": []}


@pytest.mark.parametrize("at", ["race", "after"])
def test_the_solver_runs_the_stage_where_asked(llama, at):
    puzzle, _, _, _, _ = llama
    solver = TransformerSolver(units=UnitHypotheses(unsure=1), softassign=SoftAssign(steps=10, at=at), time_limit=20)
    stages = solver.solve(puzzle).stages
    names, units = [s.stage for s in stages], next(s for s in stages if s.stage == "units")
    floor = 1e-9 * float(puzzle.pred.pow(2).mean())
    assert names[:3] == ["circuits", "start", "units"]
    assert units.details["gains_placed"] <= (2 if at == "race" else 0)
    if at == "race" or units.mse <= floor:  # nothing runs after a stage at the floor
        assert "softassign" not in names
    else:
        assert names[3] == "softassign"
