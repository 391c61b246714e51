"""blackbox-kinks on one black-box size (100-32-10, built in memory: nothing trained), timed once;
the referee's max parameter error, output error and query count go into ``extra_info``."""

from __future__ import annotations

import torch

from reassembly.query.blackbox import BlackboxProblem
from reassembly.query.mlp import forward, output_error, parameter_errors
from reassembly.query.oracle import Oracle
from reassembly.registry import get_solver


def test_kinks_on_100_32_10(benchmark) -> None:
    g = torch.Generator().manual_seed(0)
    truth = {
        "W1": torch.randn(32, 100, generator=g, dtype=torch.float64) / 10,
        "b1": 0.1 * torch.randn(32, generator=g, dtype=torch.float64),
        "W2": torch.randn(10, 32, generator=g, dtype=torch.float64) / 32**0.5,
        "b2": torch.zeros(10, dtype=torch.float64),
    }

    def solve():
        problem = BlackboxProblem(100, 32, 10, budget=100_000)
        problem.oracle = Oracle(lambda X: forward(truth, X), 100, problem.budget)
        return get_solver("blackbox-kinks").solve(problem), problem.oracle.used

    result, queries = benchmark.pedantic(solve, rounds=1, iterations=1)
    probes = torch.randn(1024, 100, generator=g, dtype=torch.float64)
    errors = parameter_errors(truth, result.params)
    benchmark.extra_info.update(queries=queries, output_error=output_error(truth, result.params, probes), **errors)
    assert errors["max_error"] < 1e-6
