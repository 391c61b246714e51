"""Metrics on hand-made cases: per-run scores, and the harness's per-solver summary of them."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from reassembly.answer import Answer
from reassembly.harness.report import summarize
from reassembly.permutation import Assembly
from reassembly.puzzle import PieceRoles
from reassembly.scoring import block_order_tau, order_exact, pairing_accuracy

# Five blocks with the roles interleaved oddly: inputs are ids 0,3,4,7,8, outputs 1,2,5,6,9 and the
# last layer 10. The truth pairs them in the listed order.
INPUTS, OUTPUTS, LAST = (0, 3, 4, 7, 8), (1, 2, 5, 6, 9), 10
ROLES = PieceRoles(inputs=INPUTS, outputs=OUTPUTS, last=LAST)


def perm(blocks: list[tuple[int, int]]) -> list[int]:
    return [i for pair in blocks for i in pair] + [LAST]


TRUE_BLOCKS = list(zip(INPUTS, OUTPUTS))
TRUTH = Assembly.from_permutation(perm(TRUE_BLOCKS), ROLES)


def test_known_wrong_pairing_gives_its_accuracy() -> None:
    # Rotate the outputs of blocks 1, 2, 3 (a 3-cycle): 2 of 5 pairs stay right; inputs keep their order.
    outs = list(OUTPUTS)
    outs[1], outs[2], outs[3] = OUTPUTS[2], OUTPUTS[3], OUTPUTS[1]
    predicted = Assembly.from_permutation(perm(list(zip(INPUTS, outs))), ROLES)
    assert pairing_accuracy(predicted, TRUTH) == pytest.approx(2 / 5)
    assert order_exact(predicted, TRUTH) is True
    assert block_order_tau(predicted, TRUTH) == pytest.approx(1.0)


def test_reversed_order_has_tau_minus_one() -> None:
    predicted = Assembly.from_permutation(perm(TRUE_BLOCKS[::-1]), ROLES)
    assert block_order_tau(predicted, TRUTH) == pytest.approx(-1.0)
    assert pairing_accuracy(predicted, TRUTH) == 1.0
    assert order_exact(predicted, TRUTH) is False


def test_one_adjacent_swap() -> None:
    blocks = list(TRUE_BLOCKS)
    blocks[2], blocks[3] = blocks[3], blocks[2]
    predicted = Assembly.from_permutation(perm(blocks), ROLES)
    # One discordant pair out of C(5, 2) = 10: tau = (9 - 1) / 10.
    assert block_order_tau(predicted, TRUTH) == pytest.approx(0.8)
    assert order_exact(predicted, TRUTH) is False
    assert Answer.from_permutation(perm(blocks)).sha256 != Answer.from_permutation(perm(TRUE_BLOCKS)).sha256


def row(solver: str, status: str = "ok", exact=None, pairs=math.nan, order=None, tau=math.nan,
        mse=math.nan, seconds=1.0, evaluations=None, suite="d4", depth=4) -> dict:
    return {"suite": suite, "solver": solver, "status": status, "exact": exact, "pairing_accuracy": pairs,
            "order_exact": order, "kendall_tau": tau, "mse": mse, "seconds": seconds,
            "evaluations": evaluations, "depth": depth, "kind": "synthetic"}


def test_summary_counts_failures_as_not_recovered() -> None:
    df = pd.DataFrame([
        row("a", exact=True, pairs=1.0, order=True, tau=1.0, mse=0.0, seconds=2.0, evaluations=10),
        row("a", exact=False, pairs=0.5, order=False, tau=0.6, mse=0.4, seconds=4.0, evaluations=30),
        row("a", status="timeout", seconds=9.0),
        row("a", status="error", seconds=None),
        row("b", exact=True, pairs=1.0, order=True, tau=1.0, mse=1e-9, seconds=1.0, evaluations=5),
    ])
    s = summarize(df).set_index("solver")
    a = s.loc["a"]
    assert (a.runs, a.exact, a.timeouts, a.errors) == (4, 1, 1, 1)
    assert a.exact_rate == pytest.approx(0.25)
    assert (a.order_exact, a.order_known) == (1, 2)
    assert a.pairing_accuracy == pytest.approx(0.75)
    assert a.kendall_tau == pytest.approx(0.8)
    assert a.mse_median == pytest.approx(0.2)
    assert a.seconds_median == pytest.approx(4.0) and a.seconds_max == pytest.approx(9.0)  # timeouts count at their time
    assert a.evaluations_median == pytest.approx(20)
    b = s.loc["b"]
    assert (b.runs, b.exact, b.exact_rate) == (1, 1, 1.0)


def test_summary_separates_suites() -> None:
    df = pd.DataFrame([row("a", exact=True, suite="d4", depth=4), row("a", exact=False, suite="d8", depth=8),
                       row("a", exact=True, suite="janestreet", depth=48)])
    s = summarize(df)
    assert list(s["suite"]) == ["d4", "d8", "janestreet"]  # by depth
    assert list(s["exact"]) == [1, 0, 1]
