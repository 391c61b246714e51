"""Small puzzles of the sequence families (``bert``, ``llama``) for unit tests, without real weights.

The layers are *constructed*: paired pieces share their unit vectors up to noise (K's rows follow
Q's, O's columns V's rows, an MLP's output columns its input rows, an up projection its gate) and
norm gains drift with depth along two chains, which gives the circuit and seriation signals the
``transformer`` solver reads. It exercises the pipeline end to end; whether real networks carry
those signals is measured on the real ones (docs/real-networks.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from reassembly.answer import Answer, Assembly
from reassembly.families import get_family
from reassembly.puzzle import Piece, Puzzle
from reassembly.scoring import outputs

if TYPE_CHECKING:
    from reassembly.kernel import Evaluator
    from solvers.transformer.moves import Groups

F64 = torch.float64
Tensors = tuple[torch.Tensor, torch.Tensor | None]


class _Draw:
    def __init__(self, seed: int) -> None:
        self.g = torch.Generator().manual_seed(seed)

    def weight(self, *shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=self.g, dtype=F64) / shape[-1] ** 0.5

    def near(self, w: torch.Tensor, noise: float = 0.3) -> torch.Tensor:
        return w + noise * w.std() * torch.randn(w.shape, generator=self.g, dtype=F64)

    def small(self, n: int) -> torch.Tensor:
        return 0.1 * torch.randn(n, generator=self.g, dtype=F64)


def _heads(w: torch.Tensor, kv: int, group: int) -> torch.Tensor:
    """Rows of key-value heads repeated for the query heads they serve."""
    return w.unflatten(0, (kv, -1)).repeat_interleave(group, 0).flatten(0, 1)


def _layer(
    name: str, k: int, depth: int, sizes: dict[str, int], bases: list[torch.Tensor], draw: _Draw
) -> dict[str, Tensors]:
    d, h, heads, kv = sizes["d"], sizes["h"], sizes["heads"], sizes["kv"]
    gains = [b * (1 + 0.5 * k / depth) + 0.02 * torch.randn(d, generator=draw.g, dtype=F64) for b in bases]
    if name == "bert":
        q, v, inp = draw.weight(d, d), draw.weight(d, d), draw.weight(h, d)
        return {
            "q": (q, draw.small(d)),
            "k": (draw.near(q), draw.small(d)),
            "v": (v, draw.small(d)),
            "o": (draw.near(v.T), draw.small(d)),
            "attn_norm": (gains[0], draw.small(d)),
            "inp": (inp, draw.small(h)),
            "out": (0.5 * draw.near(inp.T), draw.small(d)),
            "out_norm": (gains[1], draw.small(d)),
        }
    width = kv * d // heads
    key, v, gate = draw.weight(width, d), draw.weight(width, d), draw.weight(h, d)
    up = draw.near(gate)
    return {
        "attn_norm": (gains[0], None),
        "q": (draw.near(_heads(key, kv, heads // kv)), None),
        "k": (key, None),
        "v": (v, None),
        "o": (draw.near(_heads(v, kv, heads // kv).T), None),
        "mlp_norm": (gains[1], None),
        "gate": (gate, None),
        "up": (up, None),
        "down": (0.5 * draw.near(up.T), None),
    }


def make_sequence_puzzle(
    family: str = "bert",
    depth: int = 3,
    d: int = 8,
    h: int = 16,
    heads: int = 2,
    kv: int = 1,
    length: int = 5,
    rows: int = 6,
    vocab: int = 20,
    seed: int = 0,
) -> tuple[Puzzle, Answer]:
    """A shuffled network of ``depth`` constructed layers of ``family`` on random token sequences
    ``(rows, length)``, and its answer. Pieces are rounded to float32 (as saved)."""
    options = {"n_heads": heads} if family == "bert" else {"n_heads": heads, "n_kv_heads": kv}
    fam = get_family(family, options)
    draw = _Draw(seed)
    sizes = {"d": d, "h": h, "heads": heads, "kv": kv}
    bases = [1 + 0.3 * torch.randn(d, generator=draw.g, dtype=F64) for _ in range(2)]
    layers = [_layer(family, k, depth, sizes, bases, draw) for k in range(depth)]
    r32 = lambda t: None if t is None else t.float().double()  # noqa: E731
    fixed = {"embed": draw.weight(vocab, d) * d**0.5}
    if family == "bert":
        fixed.update(
            position=0.1 * draw.weight(length, d),
            token_type=draw.small(d),
            embed_norm_weight=1 + draw.small(d),
            embed_norm_bias=draw.small(d),
        )
    else:
        fixed["final_norm"] = 1 + draw.small(d)
    fixed = {k: r32(v) for k, v in fixed.items()}
    S = len(fam.slots)
    ids = torch.randperm(depth * S, generator=draw.g).tolist()
    pieces = [
        Piece(ids[k * S + j], *(r32(t) for t in layer[slot.name]))
        for k, layer in enumerate(layers)
        for j, slot in enumerate(fam.slots)
    ]
    truth = Assembly(tuple(tuple(ids[k * S : (k + 1) * S]) for k in range(depth)), ())
    tokens = torch.randint(vocab, (rows, length), generator=draw.g)
    X = fam.stem(fixed, tokens)
    probe = Puzzle(pieces=tuple(pieces), X=X, pred=torch.zeros_like(X), family=fam, fixed=fixed, tokens=tokens)
    pred = outputs(probe, truth).clone()
    return Puzzle(
        pieces=tuple(pieces), X=X, pred=pred, name=f"{family}-test", family=fam, fixed=fixed, tokens=tokens
    ), Answer.of(truth)


def search_case(family: str, **sizes: int) -> tuple[Puzzle, Answer, Groups, Evaluator, torch.Tensor]:
    """A :func:`make_sequence_puzzle` puzzle as the ``transformer`` search sees it: the puzzle, its
    answer, the column groups of the circuits' plan, a float64 evaluator on every row and the true
    arrangement.

    Parameters
    ----------
    family
        ``bert`` or ``llama``.
    sizes
        Keyword arguments of :func:`make_sequence_puzzle`.
    """
    from reassembly.kernel import PieceStack
    from solvers.rows import evaluator
    from solvers.transformer.circuits import match_circuits
    from solvers.transformer.start import plan

    puzzle, answer = make_sequence_puzzle(family, **sizes)
    groups, _ = plan(puzzle, match_circuits(puzzle))
    ev = evaluator(puzzle, PieceStack(puzzle, F64), (), None, 0)
    return puzzle, answer, groups, ev, ev.stack.arrangement(answer.assembly(puzzle.layout))
