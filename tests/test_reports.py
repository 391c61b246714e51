"""Reports on a folder with three tasks and twelve variants: one readable figure set per task
(distinct colours, tick labels that do not overlap, exact MSE at 0, unsupported runs not drawn) and
a page with the environment, every run in a sortable table, generator settings and spread."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers.cli import invoke

TASKS = {
    "reassembly": [f"fast[search__patience={p}]" for p in (5, 10, 20, 40, 80)] + ["paper", "cosine", "transformer"],
    "resync": ["resync-cosine", "resync-match"],
    "query": ["query-committee", "query-random"],
}


def rows() -> list[dict]:
    rng = np.random.default_rng(0)
    out = []
    for task, variants in TASKS.items():
        for block in ("relu", "gelu-with-a-rather-long-suite-name"):
            for seed in range(3):
                for v in variants:
                    unsupported = v == "transformer"
                    exact = bool(rng.random() < 0.6) and not unsupported
                    out.append(
                        {
                            "key": f"{task}-{block}-{seed}-{v}",
                            "task": task,
                            "puzzle": f"{task}-{block}-seed{seed}",
                            "suite": f"block={block}",
                            "seed": seed,
                            "solver": v.split("[")[0],
                            "variant": v,
                            "status": "unsupported" if unsupported else "ok",
                            "exact": None if unsupported else exact,
                            "grouping_accuracy": None if unsupported else float(rng.uniform(0.8, 1)),
                            "kendall_tau": None if unsupported else (1.0 if exact else float(rng.uniform(0, 1))),
                            "mse": None if unsupported else (1e-16 if exact else float(rng.uniform(1e-4, 1e-2))),
                            "seconds": None if unsupported else float(rng.uniform(0.1, 5)),
                            "evaluations": 100,
                            "psi": float(rng.uniform()) if task == "resync" else None,
                            "env.cpu": "Test CPU",
                            "env.torch": "2.13.0+cpu",
                            "env.git_commit": "abc123",
                            "torch_threads": 2,
                            "finished_at": "2026-01-01T00:00:00+00:00",
                            "config.block": block,
                            "config.depth": 8,
                            "config.width": 48,
                        }
                    )
    return out


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("report")
    (root / "res").mkdir()
    (root / "res" / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows()))
    shown = invoke("report", root / "res", "--plot", root / "plots" / "bench.png", "--html", root / "page.html")
    assert shown.exit_code == 0, shown.output
    return root, (root / "page.html").read_text()


def test_one_figure_set_per_task(report) -> None:
    root, _ = report
    names = sorted(p.name for p in (root / "plots").iterdir())
    assert names == sorted(f"bench-{t}{s}.png" for t in TASKS for s in ("", "-profiles"))


def test_figures_are_readable() -> None:
    import pandas as pd

    from reassembly.harness.plots import colours, overview

    assert len(set(colours([f"v{i}" for i in range(12)]).values())) == 12
    assert len(set(colours([f"v{i}" for i in range(30)]).values())) == 30
    df = pd.DataFrame(rows())
    fig = overview(df[df["task"] == "reassembly"])
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    for ax in fig.axes:
        boxes = [t.get_window_extent(renderer) for t in ax.get_xticklabels() if t.get_text()]
        assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :]), ax.get_title()
    legend = [t.get_text() for ax in fig.axes for lg in [ax.get_legend()] if lg for t in lg.get_texts()]
    assert "transformer" not in legend  # unsupported everywhere: nothing of it is drawn
    mse = next(ax for ax in fig.axes if ax.get_title().startswith("Final MSE"))
    ys = np.concatenate([c.get_offsets()[:, 1] for c in mse.collections])
    assert (ys == 0).any() and not ((ys > 0) & (ys < 1e-12)).any()  # exact answers at 0, not 1e-16


def test_the_page_has_environment_runs_settings_and_spread(report) -> None:
    _, page = report
    for text in (
        "<h2>Environment</h2>",
        "Test CPU",
        "2.13.0+cpu",
        "abc123",
        "torch threads per solve",
        "2026-01-01",
        "<h2>Generator settings</h2>",
        "depth=8",
        "class='runs'",
        "id=filter",
        "Ψ (mean)",
        "τ (mean)",
        "MSE (median)",
        "seconds (median)",
        "(min–max)",
        "task resync",
        "task query",
    ):
        assert text in page, text
    assert page.count("<img") == 6 and page.count("data-v=") > 100
