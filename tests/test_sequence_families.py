"""Sequence families (real transformer layers): forwards against plain implementations, the kernel
on (n, T, d) states, puzzle files with options and fixed tensors, scoring, and the solvers."""

from __future__ import annotations

import json
import math

import pytest
import torch
from helpers.sequences import make_sequence_puzzle

from reassembly.errors import PuzzleError, UnsupportedPuzzle
from reassembly.families import get_family
from reassembly.kernel import Evaluator, PieceStack
from reassembly.loader import load_puzzle, save_puzzle, visible_files
from reassembly.scoring import network_mse, score

CASES = {"bert": {}, "llama": {"heads": 4, "kv": 2}}


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    puzzle, answer = make_sequence_puzzle(request.param, **CASES[request.param])
    return puzzle, answer.assembly(puzzle.layout)


def plain_bert(p, x, heads, eps):
    """BERT written out with torch's own layer norm and an explicit softmax."""
    n, T, d = x.shape
    ln = lambda v, g: torch.nn.functional.layer_norm(v, (d,), g.weight, g.bias, eps)  # noqa: E731
    lin = lambda v, s: v @ p[s].weight.T + p[s].bias  # noqa: E731
    q, k, v = (lin(x, s).view(n, T, heads, -1).transpose(1, 2) for s in "qkv")
    att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // heads), -1) @ v
    a = ln(x + lin(att.transpose(1, 2).reshape(n, T, d), "o"), p["attn_norm"])
    return ln(a + lin(torch.nn.functional.gelu(lin(a, "inp")), "out"), p["out_norm"])


def plain_llama(p, x, heads, kv, base, eps):
    """Llama written out with rotary embeddings as complex rotations of (i, i + hd/2) pairs."""
    n, T, d = x.shape
    hd = d // heads
    rms = lambda v, g: v / torch.sqrt(v.pow(2).mean(-1, keepdim=True) + eps) * g.weight  # noqa: E731

    def rope(t):
        freq = base ** (-torch.arange(hd // 2, dtype=torch.float64) * 2 / hd)
        z = torch.complex(t[..., : hd // 2], t[..., hd // 2 :]) * torch.polar(
            torch.ones(T, hd // 2, dtype=torch.float64), torch.arange(T)[:, None] * freq
        )
        return torch.cat([z.real, z.imag], -1)

    u = rms(x, p["attn_norm"])
    q = rope((u @ p["q"].weight.T).view(n, T, heads, hd).transpose(1, 2))
    k = rope((u @ p["k"].weight.T).view(n, T, kv, hd).transpose(1, 2)).repeat_interleave(heads // kv, 1)
    v = (u @ p["v"].weight.T).view(n, T, kv, hd).transpose(1, 2).repeat_interleave(heads // kv, 1)
    s = (q @ k.transpose(-1, -2) / math.sqrt(hd)).masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), -math.inf)
    x = x + (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(n, T, d) @ p["o"].weight.T
    w = rms(x, p["mlp_norm"])
    return x + (torch.nn.functional.silu(w @ p["gate"].weight.T) * (w @ p["up"].weight.T)) @ p["down"].weight.T


def test_layers_match_plain_implementations(case):
    puzzle, truth = case
    fam, stack = puzzle.family, PieceStack(puzzle, torch.float64)
    p = stack.at(stack.arrangement(truth)[0].tolist())
    x = puzzle.X
    if fam.name == "bert":
        plain = plain_bert(p, x, fam.n_heads, fam.eps)
    else:
        plain = plain_llama(p, x, fam.n_heads, fam.n_kv_heads, fam.rope_base, fam.eps)
    assert torch.allclose(fam.block(p, x), plain, rtol=1e-10, atol=1e-12)


def test_llama_is_causal():
    puzzle, answer = make_sequence_puzzle("llama", **CASES["llama"])
    truth = answer.assembly(puzzle.layout)
    stack = PieceStack(puzzle, torch.float64)
    ev = Evaluator(stack, (), puzzle.X, puzzle.pred)
    arr = stack.arrangement(truth)
    changed = puzzle.X.clone()
    changed[:, -1] += 1.0  # only the last token
    a, b = ev.states(arr)[-1], ev.with_rows(changed, puzzle.pred).states(arr)[-1]
    assert torch.allclose(a[:, :-1], b[:, :-1]) and not torch.allclose(a[:, -1], b[:, -1])


def test_kernel_on_sequence_states(case):
    puzzle, truth = case
    stack = PieceStack(puzzle, torch.float64)
    ev = Evaluator(stack, (), puzzle.X, puzzle.pred)
    arr = stack.arrangement(truth)
    others = torch.stack([arr.flip(0), arr[[1, 0, 2]], arr[[0, 2, 1]]])
    plain = []
    for a in others:
        h = puzzle.X
        for row in a.tolist():
            h = puzzle.family.block(stack.at(row), h)
        plain.append(float((puzzle.family.head(stack.head(()), h) - puzzle.pred).pow(2).mean()))
    assert ev.mse(arr) < 1e-20 and float(ev.loss(ev.states(arr)[-1])) < 1e-20
    assert [ev.mse(a) for a in others] == pytest.approx(plain, rel=1e-9)
    assert ev.run(others).tolist() == pytest.approx(plain, rel=1e-9)
    assert ev.suffix_losses(others, torch.tensor([0, 0, 1]), ev.states(arr)).tolist() == pytest.approx(plain, rel=1e-9)
    with pytest.raises(UnsupportedPuzzle, match="first-order screens"):
        ev.jacobians(arr, ev.states(arr))


def test_save_and_load_keep_everything(case, tmp_path):
    puzzle, truth = case
    root = save_puzzle(puzzle, tmp_path / "p")
    spec = json.loads((root / "puzzle.json").read_text())
    assert spec["family"] == puzzle.family.name and spec["options"] == puzzle.family.options
    assert "historical_data.csv" not in visible_files(root) and {"sequences.pth", "fixed.pth", "puzzle.json"} <= set(
        visible_files(root)
    )
    back = load_puzzle(root)
    assert back.family.options == puzzle.family.options
    assert (
        torch.equal(back.tokens, puzzle.tokens)
        and torch.equal(back.pred, puzzle.pred)
        and torch.equal(back.X, puzzle.X)
    )
    assert network_mse(back, truth) < 1e-20


def test_scoring_judges_the_function(case):
    puzzle, truth = case
    s = score(puzzle, truth)
    assert s.mse < 1e-20
    swapped = type(truth)(truth.blocks[::-1], ())
    from reassembly.answer import Answer

    wrong = score(puzzle, swapped, Answer.of(truth))
    assert not wrong.exact and wrong.mse > 1e-6 and wrong.kendall_tau == pytest.approx(-1.0)


@pytest.mark.parametrize(
    "fault, message",
    [
        (
            lambda r: torch.save(
                {"tokens": torch.zeros(2, 5, dtype=torch.long), "pred": torch.zeros(2, 4, 8)}, r / "sequences.pth"
            ),
            "expected",
        ),
        (
            lambda r: torch.save(
                {"tokens": torch.full((6, 5), 99), "pred": torch.zeros(6, 5, 8, dtype=torch.float64)},
                r / "sequences.pth",
            ),
            "index",
        ),
        (
            lambda r: torch.save({"tokens": torch.zeros(6, 5), "pred": torch.zeros(6, 5, 8)}, r / "sequences.pth"),
            "integer",
        ),
        (lambda r: torch.save({"embed": torch.zeros(20, 8)}, r / "fixed.pth"), "fixed tensors"),
        (lambda r: (r / "fixed.pth").unlink(), "fixed.pth"),
        (
            lambda r: (r / "puzzle.json").write_text('{"format": 1, "family": "bert", "options": {"n_heads": 3}}'),
            "heads",
        ),
        (
            lambda r: (r / "puzzle.json").write_text('{"format": 1, "family": "bert", "options": {"wings": 2}}'),
            "unknown option",
        ),
        (
            lambda r: (r / "puzzle.json").write_text('{"format": 1, "family": "relu", "options": {"n_heads": 2}}'),
            "takes no options",
        ),
        (lambda r: torch.save({"tokens": [1, 2], "pred": torch.zeros(1)}, r / "sequences.pth"), "sequences.pth"),
    ],
)
def test_bad_sequence_files_give_one_line_errors(tmp_path, fault, message):
    puzzle, _ = make_sequence_puzzle("bert")
    root = save_puzzle(puzzle, tmp_path / "p")
    fault(root)
    with pytest.raises(PuzzleError, match=message) as info:
        load_puzzle(root)
    assert "\n" not in str(info.value)


def test_family_options_are_checked():
    assert get_family("llama", {"n_heads": 4, "n_kv_heads": 2}).options["n_kv_heads"] == 2
    for bad in ({"n_heads": 0}, {"n_heads": 2.5}, {"eps": "x"}, {"n_heads": True}):
        with pytest.raises(PuzzleError):
            get_family("bert", bad)


@pytest.mark.parametrize("family", list(CASES))
def test_transformer_recovers_constructed_layers(family):
    from solvers.transformer import TransformerSolver

    puzzle, answer = make_sequence_puzzle(family, **CASES[family])
    result = TransformerSolver(time_limit=120).solve(puzzle)
    assert score(puzzle, result.assembly, answer).exact
    assert result.certificate["kind"] == "zero-loss"


@pytest.mark.parametrize("name", ["paper", "paper-hillclimb", "cosine", "fast"])
def test_other_solvers_say_they_do_not_apply(name):
    from reassembly.registry import get_spec

    puzzle, _ = make_sequence_puzzle("bert")
    with pytest.raises(UnsupportedPuzzle):
        get_spec(name).make().solve(puzzle)


def test_transformer_refuses_table_puzzles(synthetic):
    from solvers.transformer import TransformerSolver

    with pytest.raises(UnsupportedPuzzle, match="fast"):
        TransformerSolver().solve(synthetic[0])


def test_solve_and_bench_run_the_family_solver(tmp_path):
    import pandas as pd
    from helpers.cli import invoke

    from reassembly.answer import ANSWER_NAME, save_answer

    puzzle, answer = make_sequence_puzzle("bert")
    root = save_puzzle(puzzle, tmp_path / "p")
    save_answer(answer, root / ANSWER_NAME)
    solved = invoke("solve", root, "--json", "--threads", "1")
    assert solved.exit_code == 0, solved.output
    data = json.loads(solved.output)
    assert data["solver"] == "transformer"
    assert "matches answer.json" in invoke("verify", root, data["answer"]).output
    benched = invoke(
        "bench",
        "--seeds",
        "0",
        "--puzzle",
        root,
        "--out",
        tmp_path / "o",
        "--jobs",
        "1",
        "--threads",
        "1",
        "-s",
        "transformer",
        "-s",
        "paper",
    )
    assert benched.exit_code == 0, benched.output
    rows = pd.read_json(tmp_path / "o" / "results.jsonl", lines=True).set_index("solver")
    assert rows.loc["transformer", "status"] == "ok" and bool(rows.loc["transformer", "exact"])
    assert "paper" not in rows.index  # left out at plan time, and said so in one line
    assert "Left out 1 run where the solver does not apply: paper on 1 puzzle" in benched.output
