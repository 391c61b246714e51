"""Linking components into layers by what they write, and the search's coordinate sweeps
(solvers/transformer/linking.py, LocalSearch.coordinate_descent)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from helpers.sequences import make_sequence_puzzle

from reassembly.kernel import PieceStack
from solvers.rows import evaluator
from solvers.transformer.circuits import match_circuits
from solvers.transformer.linking import link, linked_units, write_features
from solvers.transformer.search import LocalSearch, SearchLog
from solvers.transformer.start import plan

SIZES = {"depth": 5, "d": 24, "h": 32, "heads": 6, "kv": 2, "rows": 8, "length": 6, "seed": 4}


@pytest.fixture(scope="module")
def llama():
    puzzle, answer = make_sequence_puzzle("llama", **SIZES)
    comps = match_circuits(puzzle)
    groups, _ = plan(puzzle, comps)
    ev = evaluator(puzzle, PieceStack(puzzle, torch.float64), (), None, 0)
    truth = ev.stack.arrangement(answer.assembly(puzzle.layout))
    return puzzle, answer, comps, groups, ev, truth


def _kinds(comps):
    by_kind: dict[tuple[str, ...], list[dict[str, int]]] = {}
    for m in comps.members:
        by_kind.setdefault(tuple(sorted(m)), []).append(m)
    return by_kind


def test_write_features_ignore_hidden_units_and_see_the_written_directions(llama):
    puzzle, _, comps, *_ = llama
    mlps = _kinds(comps)[("down", "gate", "up")]
    f = write_features(puzzle, mlps)
    assert torch.allclose(f.norm(dim=1), torch.ones(len(mlps)))
    # The same pieces with their hidden units permuted write the same directions.
    pieces = list(puzzle.pieces)
    old = pieces[mlps[0]["down"]]
    pieces[mlps[0]["down"]] = dataclasses.replace(old, weight=old.weight[:, torch.randperm(old.weight.shape[1])])
    assert torch.allclose(write_features(dataclasses.replace(puzzle, pieces=tuple(pieces)), mlps), f, atol=1e-6)
    # A different write piece changes the features.
    pieces[mlps[0]["down"]] = dataclasses.replace(old, weight=torch.randn_like(old.weight))
    assert not torch.allclose(write_features(dataclasses.replace(puzzle, pieces=tuple(pieces)), mlps), f, atol=1e-3)


def test_link_finds_a_planted_pairing(llama):
    """Members of a second kind that write exactly what a first kind's members write (their hidden
    units permuted, scaled) are linked to them, whatever the order they come in."""
    puzzle, _, comps, *_ = llama
    by_kind = _kinds(comps)
    mlps, vos = by_kind[("down", "gate", "up")], by_kind[("o", "v")]
    order = [3, 0, 4, 1, 2]
    pieces = list(puzzle.pieces)
    for vo, j in zip(vos, order):  # V/O number i now writes what MLP order[i] writes (o: d x d)
        down = puzzle.pieces[mlps[j]["down"]].weight
        u, s, _ = torch.linalg.svd(down, full_matrices=False)
        rotation = torch.linalg.qr(torch.randn(s.shape[0], s.shape[0], dtype=down.dtype))[0]
        pieces[vo["o"]] = dataclasses.replace(pieces[vo["o"]], weight=2.0 * (u * s) @ rotation)
    planted = dataclasses.replace(puzzle, pieces=tuple(pieces))
    assert link(planted, mlps, vos) == [order.index(j) for j in range(len(mlps))]


def test_only_writing_kinds_are_linked(llama):
    puzzle, _, comps, groups, ev, _ = llama
    units = linked_units(puzzle, _kinds(comps))
    assert units is not None and len(units) == SIZES["depth"]
    assert all(set(u) == {"v", "o", "gate", "up", "down"} for u in units)
    # The start runs Q/K along the linked units (by reads) and holds them with the units first.
    assert {ev.stack.slots[c] for c in groups.chain} == {"q", "k", "v", "o", "gate", "up", "down"}
    assert {ev.stack.slots[c] for c in plan(puzzle, comps, align=False)[0].chain} == {"v", "o", "gate", "up", "down"}
    assert linked_units(puzzle, {k: v for k, v in _kinds(comps).items() if "down" not in k}) is None
    assert plan(puzzle, comps, link=False)[0].chain == ()


def test_parts_are_one_group_of_columns_each(llama):
    *_, groups, _, _ = llama
    parts = groups.parts()
    assert len(parts) == len(groups.kinds) + len(groups.singles)
    assert all(len(p.kinds) + len(p.singles) == 1 and not p.sublayers for p in parts)
    for p in parts:
        cols = {c for k in p.kinds for c in k}
        assert all(set(f) <= cols for f in p.flips)


@pytest.mark.parametrize("kind", [0, 1])
def test_coordinate_sweeps_put_one_scrambled_kind_back(llama, kind):
    """Everything right but one kind's components: sweeps over that kind alone restore the network."""
    *_, groups, ev, truth = llama
    cols = list(groups.kinds[kind])
    arr = truth.clone()
    arr[:, cols] = truth.roll(2, 0)[:, cols]
    assert float(ev.loss(ev.states(arr)[-1])) > 1e-6
    floor = 1e-12 * float(ev.target.pow(2).mean())
    out = LocalSearch().coordinate_descent(ev, arr, groups, floor, ev.clock() + 60, SearchLog())
    assert torch.equal(out, truth)
    assert float(ev.loss(ev.states(out)[-1])) <= floor


def test_the_search_without_coordinate_sweeps_is_still_there(llama):
    *_, groups, ev, truth = llama
    arr = truth.clone()
    arr[:, list(groups.kinds[0])] = truth.roll(1, 0)[:, list(groups.kinds[0])]
    _, loss, log = LocalSearch(coordinate=False).run(ev, arr, groups, 1e-20, ev.clock() + 60, np.random.default_rng(0))
    assert log.sweeps >= 1 and loss < float(ev.loss(ev.states(arr)[-1]))


def test_sublayer_parts_exchange_a_norm_with_its_components(llama):
    *_, groups, ev, truth = llama
    plain, with_sub = groups.parts(), groups.parts(sublayers=True)
    assert with_sub[: len(plain)] == plain and len(with_sub) == len(plain) + len(groups.sublayers)
    assert [p.kinds[0] for p in with_sub[len(plain) :]] == list(groups.sublayers)
    # Two layers' attention sublayers exchanged: the sublayer part's sweep puts them back.
    cols = list(groups.sublayers[0])
    arr = truth.clone()
    arr[0, cols], arr[1, cols] = truth[1, cols], truth[0, cols]
    floor = 1e-12 * float(ev.target.pow(2).mean())
    out = LocalSearch(coordinate="sublayers").coordinate_descent(ev, arr, groups, floor, ev.clock() + 60, SearchLog())
    assert float(ev.loss(ev.states(out)[-1])) <= floor
