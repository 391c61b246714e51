"""The ``transformer`` solver on the real networks, timed once each: opt-in (``REASSEMBLY_BENCH_REAL=1``;
MiniLM takes seconds, SmolLM2's rungs up to its 480 s limit), and it needs their weights in the cache
(``reassembly fetch minilm|smollm2``) and the ``real`` extra; skipped otherwise.

all-MiniLM-L6-v2 and SmolLM2-135M's first 6, 12 and 18 layers (``generate --from smollm2 --layers K``)
must be recovered exactly; on all 30 of SmolLM2's layers the score goes into ``extra_info``.
"""

from __future__ import annotations

import os

import pytest

from reassembly.scoring import score

REAL_ENV = "REASSEMBLY_BENCH_REAL"


def real_puzzle(name: str, reader: str, layers: int | None = None):
    from generators.real.build import RealConfig, build_real
    from generators.real.fetch import present, weights_dir

    if os.environ.get(REAL_ENV) != "1":
        pytest.skip(f"the real-network cases take minutes; set {REAL_ENV}=1 to run them")
    pytest.importorskip(reader, reason=f"needs {reader!r}: pip install 'reassembly[real]'")
    if not present(name):
        pytest.skip(f"{name} weights not in {weights_dir(name)}: run 'reassembly fetch {name}'")
    puzzle, answer, _ = build_real(RealConfig(name, layers=layers))
    return puzzle, answer


@pytest.mark.parametrize(
    "name, reader, layers, exact",
    [
        ("minilm", "safetensors", None, True),
        ("smollm2", "gguf", None, False),
        ("smollm2", "gguf", 6, True),
        ("smollm2", "gguf", 12, True),
        ("smollm2", "gguf", 18, True),
    ],
    ids=["minilm", "smollm2", "smollm2-l6", "smollm2-l12", "smollm2-l18"],
)
def test_transformer_on_real_network(benchmark, name: str, reader: str, layers: int | None, exact: bool) -> None:
    from solvers.transformer import TransformerSolver

    puzzle, answer = real_puzzle(name, reader, layers)
    result = benchmark.pedantic(TransformerSolver().solve, args=(puzzle,), rounds=1, iterations=1)
    s = score(puzzle, result.assembly, answer)
    benchmark.extra_info.update(
        network=name,
        layers=puzzle.depth,
        exact=s.exact,
        mse=s.mse,
        grouping_accuracy=s.grouping_accuracy,
        kendall_tau=s.kendall_tau,
        evaluations=result.evaluations,
    )
    if exact:
        assert s.exact, f"transformer no longer recovers {name} exactly (MSE {s.mse:.3e})"
