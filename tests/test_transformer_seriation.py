"""Seriation of components that only read by their circuit matrices, and the direction of such a
path against the linked layers' path by what both read (solvers/transformer/seriation.py,
solvers/transformer/linking.py::runs_along)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from helpers.sequences import make_sequence_puzzle
from scipy.stats import kendalltau

from solvers.transformer.circuits import match_circuits
from solvers.transformer.linking import runs_along
from solvers.transformer.seriation import circuit_similarity, seriate
from solvers.transformer.start import plan

SIZES = {"depth": 7, "d": 24, "h": 32, "heads": 6, "kv": 2, "rows": 4, "length": 4, "seed": 5}


@pytest.fixture(scope="module")
def llama():
    puzzle, answer = make_sequence_puzzle("llama", **SIZES)
    slots = puzzle.layout.block_slots
    blocks = answer.assembly(puzzle.layout).blocks
    layers = [{s: b[slots.index(s)] for s in slots} for b in blocks]  # true order
    return puzzle, layers


def _with(puzzle, weights: dict[int, torch.Tensor]):
    pieces = list(puzzle.pieces)
    for pid, w in weights.items():
        pieces[pid] = dataclasses.replace(pieces[pid], weight=w.to(pieces[pid].weight.dtype))
    return dataclasses.replace(puzzle, pieces=tuple(pieces))


def test_circuit_matrix_ignores_how_a_heads_units_are_numbered(llama):
    puzzle, layers = llama
    qk = [{"q": m["q"], "k": m["k"]} for m in layers]
    sim = circuit_similarity(puzzle, qk)
    assert sim is not None and np.allclose(np.diag(sim), 1.0)
    # One layer's units permuted within each head, the same way in Q and in K (per key-value head
    # for K, and for every query head it serves in Q): the same circuit, the same similarities.
    hd = SIZES["d"] // SIZES["heads"]
    perm = torch.randperm(hd, generator=torch.Generator().manual_seed(0))
    q, k = puzzle.pieces[qk[2]["q"]].weight, puzzle.pieces[qk[2]["k"]].weight
    rows = lambda w: w.reshape(-1, hd, w.shape[1])[:, perm].reshape(w.shape)  # noqa: E731
    permuted = _with(puzzle, {qk[2]["q"]: rows(q), qk[2]["k"]: rows(k)})
    assert np.allclose(circuit_similarity(permuted, qk), sim, atol=1e-6)
    # A different key projection is a different circuit.
    changed = _with(puzzle, {qk[2]["k"]: torch.randn_like(k)})
    assert not np.allclose(circuit_similarity(changed, qk), sim, atol=1e-3)


def test_q_k_pairs_are_seriated_by_their_circuit_matrices(llama):
    """Circuits that drift along depth (each layer's Q and K a step further from the same two
    ends) come out of seriation in depth order, whichever order they are given in; their column
    norms, the profile other kinds use, are flat and carry no order."""
    puzzle, layers = llama
    g = torch.Generator().manual_seed(1)
    d, kv_rows = SIZES["d"], SIZES["d"] // SIZES["heads"] * SIZES["kv"]
    ends = [torch.randn(r, d, generator=g, dtype=torch.float64) for r in (d, kv_rows, d, kv_rows)]
    weights = {}
    for i, m in enumerate(layers):
        t = i / (len(layers) - 1)
        weights[m["q"]] = torch.nn.functional.normalize((1 - t) * ends[0] + t * ends[2], dim=0)
        weights[m["k"]] = torch.nn.functional.normalize((1 - t) * ends[1] + t * ends[3], dim=0)
    planted = _with(puzzle, weights)
    shuffled = [layers[i] for i in (4, 0, 6, 2, 5, 1, 3)]
    qk = [{"q": m["q"], "k": m["k"]} for m in shuffled]
    depth_of = [layers.index(m) for m in shuffled]
    order = [depth_of[i] for i in seriate(planted, qk)]
    assert abs(kendalltau(range(len(order)), order)[0]) == 1.0


def test_runs_along_tells_a_path_from_its_reverse(llama):
    """Q/K components whose key projections read what the same layer's value projection reads run
    the way the layers do, and their reverse does not."""
    puzzle, layers = llama
    planted = _with(puzzle, {m["k"]: 3.0 * puzzle.pieces[m["v"]].weight for m in layers})
    units = [{s: m[s] for s in ("v", "o", "gate", "up", "down")} for m in layers]
    qk = [{"q": m["q"], "k": m["k"]} for m in layers]
    assert runs_along(planted, units, qk)
    assert not runs_along(planted, units, qk[::-1])
    assert runs_along(planted, units[::-1], qk[::-1])


def test_the_start_joins_q_k_to_the_linked_layers(llama):
    puzzle, _ = llama
    comps = match_circuits(puzzle)
    _, joined = plan(puzzle, comps)
    _, apart = plan(puzzle, comps, align=False)
    assert len(joined) == len(apart) - 1  # Q/K's own direction choice is gone
    assert all(set(u) == {"q", "k", "v", "o", "gate", "up", "down"} for u in joined[0][0])
    assert joined[0][1] == joined[0][0][::-1]
