"""The harness's per-variant summary of hand-made rows."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from reassembly.harness.summary import summarize


def row(
    variant: str,
    status: str = "ok",
    exact=None,
    groups=math.nan,
    order=None,
    tau=math.nan,
    mse=math.nan,
    seconds=1.0,
    evaluations=None,
    suite="d4",
    depth=4,
    failure=None,
) -> dict:
    return {
        "suite": suite,
        "solver": variant.split("[")[0],
        "variant": variant,
        "status": status,
        "exact": exact,
        "grouping_accuracy": groups,
        "order_exact": order,
        "kendall_tau": tau,
        "mse": mse,
        "seconds": seconds,
        "evaluations": evaluations,
        "depth": depth,
        "kind": "synthetic",
        "failure": failure,
    }


def test_summary_counts_failures_as_not_recovered() -> None:
    df = pd.DataFrame(
        [
            row("a", exact=True, groups=1.0, order=True, tau=1.0, mse=0.0, seconds=2.0, evaluations=10),
            row(
                "a",
                exact=False,
                groups=0.5,
                order=False,
                tau=0.6,
                mse=0.4,
                seconds=4.0,
                evaluations=30,
                failure="search",
            ),
            row("a", status="timeout", seconds=9.0),
            row("a", status="error", seconds=None),
            row("a", status="unsupported", seconds=None),
            row("b", exact=True, groups=1.0, order=True, tau=1.0, mse=1e-9, seconds=1.0, evaluations=5),
        ]
    )
    s = summarize(df).set_index("variant")
    a = s.loc["a"]
    assert (a.runs, a.exact, a.n_timeout, a.n_error, a.n_unsupported, a.search_misses) == (4, 1, 1, 1, 1, 1)
    assert a.exact_rate == pytest.approx(0.25)
    assert (a.order_exact, a.order_known) == (1, 2)
    assert a.grouping_accuracy == pytest.approx(0.75)
    assert a.kendall_tau == pytest.approx(0.8)
    assert a.mse_median == pytest.approx(0.2)
    assert a.seconds_median == pytest.approx(4.0) and a.seconds_max == pytest.approx(
        9.0
    )  # timeouts count at their time
    assert a.evaluations_median == pytest.approx(20)
    b = s.loc["b"]
    assert (b.runs, b.exact, b.exact_rate) == (1, 1, 1.0)


def test_summary_separates_suites_and_variants() -> None:
    df = pd.DataFrame(
        [
            row("a", exact=True, suite="d4", depth=4),
            row("a", exact=False, suite="d8", depth=8),
            row("a[x=1]", exact=True, suite="d8", depth=8),
            row("a", exact=True, suite="janestreet", depth=48),
        ]
    )
    s = summarize(df)
    assert list(zip(s["suite"], s["variant"])) == [("d4", "a"), ("d8", "a"), ("d8", "a[x=1]"), ("janestreet", "a")]
    assert list(s["exact"]) == [1, 0, 1, 1]


def test_rows_without_some_fields_still_summarise() -> None:
    df = pd.DataFrame([{"solver": "a", "status": "ok", "exact": True}, {"solver": "a", "status": "error"}])
    s = summarize(df)
    assert (s.loc[0, "runs"], s.loc[0, "exact"], s.loc[0, "n_error"]) == (2, 1, 1)
