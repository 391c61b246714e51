"""The bench as a library: the README's Python example runs verbatim, and the API writes what the
command writes."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_python() -> str:
    found = re.findall(r"<!-- readme-test: python -->\s*```python\n(.*?)```", README.read_text(), re.S)
    assert len(found) == 1
    return found[0]


def test_the_readme_python_example_runs_verbatim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(readme_python(), "README.md", "exec"), namespace)
    results, df = namespace["results"], namespace["df"]
    assert len(df) == 4 and set(df["variant"]) == {"fast", "paper[rows=500]"} and (df["status"] == "ok").all()
    assert df.loc[df["variant"] == "fast", "exact"].all()
    out = tmp_path / "runs" / "notebook"
    assert results.csv.resolve() == out / "results.csv" and len(pd.read_csv(out / "results.csv")) == 4
    assert "fast" in capsys.readouterr().out
    again = namespace["Benchmark"](
        solvers=["fast"],
        generator={"depth": 4, "width": 12, "hidden": 24, "rows": 400, "epochs": 3},
        seeds=2,
        out=str(out),
        jobs=1,
    ).run()
    assert list(again.frame["key"]) == list(df.loc[df["variant"] == "fast", "key"])  # stored runs are not redone
    assert list(again.frame["finished_at"]) == list(df.loc[df["variant"] == "fast", "finished_at"])


def test_options_are_checked_before_anything_runs(tmp_path: Path) -> None:
    from reassembly import Benchmark
    from reassembly.errors import ConfigError

    with pytest.raises(ConfigError, match="--seeds must be >= 0"):
        Benchmark(seeds=-1, out=tmp_path).run()
    with pytest.raises(ConfigError, match="fixes its puzzles"):
        Benchmark(suite="quick", generator={"depth": 4}, out=tmp_path).plan()
    with pytest.raises(ConfigError, match="--suite runs layer reassembly"):
        Benchmark(suite="quick", task="resync", out=tmp_path).plan()
    assert not any(tmp_path.iterdir())
