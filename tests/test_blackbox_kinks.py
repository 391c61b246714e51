"""blackbox-kinks at a size where its parts can fail: kinks located to float64 precision, a
network of 24 inputs and 16 units exact, the query count the oracle's, a small two-hidden-layer
net exact (its large linear regions let other lines confirm a deeper unit's plane piece: the
far-point test must reject it), and a layer's orientations read from the sides of its kinks."""

from __future__ import annotations

from pathlib import Path

import torch

from reassembly.query.blackbox import BlackboxProblem, load_problem, save_answer, save_problem
from reassembly.query.mlp import forward, parameter_errors
from reassembly.registry import get_solver
from reassembly.tasks import get_task
from solvers.blackbox.lines import Reader
from solvers.blackbox.sides import signs_from_sides


def random_net(d: int, h: int, o: int, layers: int = 1, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    widths = [d] + [h] * layers + [o]
    return {
        n: t
        for k in range(layers + 1)
        for n, t in (
            (f"W{k + 1}", torch.randn(widths[k + 1], widths[k], generator=g, dtype=torch.float64) / widths[k] ** 0.5),
            (f"b{k + 1}", 0.1 * torch.randn(widths[k + 1], generator=g, dtype=torch.float64)),
        )
    }


def test_every_kink_of_a_line_is_found_to_float64_precision() -> None:
    p = random_net(20, 30, 3)
    g = torch.Generator().manual_seed(1)
    x0, v = torch.randn(20, generator=g, dtype=torch.float64), torch.randn(20, generator=g, dtype=torch.float64)
    v = v / v.norm()
    reader = Reader(lambda X: forward(p, X), 20, torch.randn(3, generator=g, dtype=torch.float64), lambda: None)
    found = torch.tensor(reader.kinks(x0, v, -20.0, 20.0), dtype=torch.float64)
    true = (-(p["W1"] @ x0 + p["b1"]) / (p["W1"] @ v)).sort().values
    true = true[true.abs() < 20]
    assert len(found) == len(true)
    assert float((found - true).abs().max()) < 1e-10


def test_a_network_is_read_exactly_and_the_oracle_counts_the_queries(tmp_path: Path) -> None:
    truth = random_net(24, 16, 2)
    root = save_problem(BlackboxProblem(24, 16, 2, budget=20_000), tmp_path / "bb")
    save_answer(truth, root / "answer.json")
    task = get_task("blackbox")
    oracle = task.serve(root, root / "answer.json")
    result = get_solver("blackbox-kinks").solve(task.attach(task.load(root), oracle))
    judged = task.judge(task.prepare(root, root / "answer.json"), {**task.claims(result), **oracle.counts()})
    assert judged["max_error"] < 1e-8 and judged["output_error"] < 1e-14
    assert 0 < judged["queries"] == oracle.used <= 20_000 and judged["queries_refused"] == 0
    assert "queries" not in result.details  # the count is the referee's, never the solver's claim


def test_two_hidden_layers_are_read_exactly(tmp_path: Path) -> None:
    truth = random_net(12, 6, 2, layers=2)
    root = save_problem(BlackboxProblem(12, 6, 2, budget=50_000, layers=2), tmp_path / "bb2")
    save_answer(truth, root / "answer.json")
    assert load_problem(root).layers == 2
    task = get_task("blackbox")
    oracle = task.serve(root, root / "answer.json")
    result = get_solver("blackbox-kinks", lines=200).solve(task.attach(task.load(root), oracle))
    assert set(result.params) == {"W1", "b1", "W2", "b2", "W3", "b3"}
    assert parameter_errors(truth, truth)["max_error"] == 0.0
    judged = task.judge(task.prepare(root, root / "answer.json"), {**task.claims(result), **oracle.counts()})
    assert judged["queries"] == oracle.used
    assert result.stages[0].details["far_rejected"] >= 1  # a second-layer piece that another line confirmed
    assert judged["max_error"] < 1e-8 and judged["output_error"] < 1e-14


def test_orientations_come_from_the_side_a_unit_shows_on() -> None:
    p = random_net(8, 6, 3, seed=3)
    g = torch.Generator().manual_seed(4)
    flips = torch.tensor([1.0, -1.0, -1.0, 1.0, -1.0, 1.0], dtype=torch.float64)
    planes = torch.cat([p["W1"], p["b1"][:, None]], 1) * flips[:, None]
    x = torch.randn(6, 8, generator=g, dtype=torch.float64)
    W, b = planes[:, :-1], planes[:, -1]
    points = x - ((x * W).sum(1) + b)[:, None] / W.pow(2).sum(1)[:, None] * W  # each on its own plane
    reader = Reader(lambda X: forward(p, X), 8, torch.ones(3, dtype=torch.float64), lambda: None)
    signs, ratio = signs_from_sides(reader, lambda x, u: (-10.0, 10.0), planes, points)
    assert torch.equal(signs, flips) and ratio < 1e-6
