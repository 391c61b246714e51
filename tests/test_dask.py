"""The bench on Dask (the optional extra): the same rows, up to timings, as the local pool."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from helpers.cli import invoke

pytest.importorskip("distributed", reason="needs the Dask extra: pip install -e '.[dev,dask]'")

SAME = [
    "key",
    "puzzle",
    "variant",
    "status",
    "exact",
    "grouping_accuracy",
    "kendall_tau",
    "mse",
    "sha256",
    "answer",
    "evaluations",
    "failure",
    "depth",
]


def test_a_local_dask_cluster_gives_the_local_pools_rows(tmp_path: Path) -> None:
    common = [
        "bench",
        "--depth",
        "8",
        "--seeds",
        "4",
        "--width",
        "12",
        "--hidden",
        "24",
        "--rows",
        "400",
        "--epochs",
        "3",
        "-s",
        "fast",
        "-s",
        "paper",
        "--jobs",
        "2",
        "--cache-dir",
        tmp_path / "cache",
    ]
    local = invoke(*common, "--out", tmp_path / "local")
    assert local.exit_code == 0, local.output
    dask = invoke(*common, "--out", tmp_path / "dask", "--scheduler", "local")
    assert dask.exit_code == 0, dask.output
    a = pd.read_csv(tmp_path / "local" / "results.csv").sort_values("key")[SAME].reset_index(drop=True)
    b = pd.read_csv(tmp_path / "dask" / "results.csv").sort_values("key")[SAME].reset_index(drop=True)
    assert len(a) == 8 and (a["status"] == "ok").all()
    pd.testing.assert_frame_equal(a, b)
    resumed = invoke(*common, "--out", tmp_path / "dask", "--scheduler", "local")  # resume works the same way
    assert resumed.exit_code == 0 and "8 already in" in resumed.output


def test_an_unreachable_scheduler_is_a_clean_error(tmp_path: Path) -> None:
    from helpers.synthetic import write_puzzle

    p = write_puzzle(tmp_path / "p", depth=3, width=4, rows=30)
    result = invoke(
        "bench",
        "--seeds",
        "0",
        "--puzzle",
        p,
        "--out",
        tmp_path / "o",
        "-s",
        "fast",
        "--scheduler",
        "tcp://127.0.0.1:9",
    )
    assert result.exit_code == 2 and "cannot connect" in result.output and "Traceback" not in result.output
