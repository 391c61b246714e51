"""Small problems of the other task families, built in memory (nothing trained): a random residual
network and its permuted copy (re-synchronisation), a query-only puzzle directory, a tiny ReLU MLP."""

from __future__ import annotations

from pathlib import Path

import torch

from helpers.synthetic import make_puzzle
from reassembly.answer import ANSWER_NAME, save_answer
from reassembly.families import get_family
from reassembly.query.problem import save_query_puzzle
from reassembly.resync.network import block_groups, tensor_name
from reassembly.resync.problem import ResyncAnswer, ResyncProblem
from reassembly.resync.units import draw_perms, permute_state


def random_network(
    family: str = "relu",
    depth: int = 3,
    d: int = 8,
    h: int = 16,
    o: int = 1,
    seed: int = 0,
    options: dict | None = None,
    k: int | None = None,
) -> dict[str, torch.Tensor]:
    """A flat state dict of ``depth`` blocks and a head, weights ~ N(0, 1/fan_in) (``options``: the
    family's; ``k``: a grouped attention's key-value width)."""
    fam, g = get_family(family, options), torch.Generator().manual_seed(seed)
    sizes = {"d": d, "h": h, "o": o, "k": k or d}
    state = {}
    for where, slots in [*((f"blocks.{k}", fam.slots) for k in range(depth)), ("head", fam.head_slots)]:
        for s in slots:
            shape = tuple(sizes[x] for x in s.shape)
            state[tensor_name(where, s.name)] = torch.randn(shape, generator=g, dtype=torch.float64) / shape[-1] ** 0.5
            if s.bias:
                state[tensor_name(where, s.name, "bias")] = 0.1 * torch.randn(
                    shape[0], generator=g, dtype=torch.float64
                )
    return state


def resync_problem(
    depth: int = 3, d: int = 8, h: int = 16, noise: float = 0.0, seed: int = 0, family: str = "relu"
) -> tuple[ResyncProblem, ResyncAnswer]:
    """A reference network and a copy with every block's units permuted (then Gaussian noise of
    ``noise`` times each tensor's RMS), with the answer."""
    fam, g = get_family(family), torch.Generator().manual_seed(seed + 1)
    reference = random_network(family, depth, d, h, seed=seed)
    groups = block_groups(fam, depth, {"h": h})
    shuffle = [torch.randperm(h, generator=g) for _ in groups]
    copy = permute_state(reference, groups, shuffle)  # the copy's unit i is the reference's shuffle[i]
    copy = {
        k: v + noise * v.pow(2).mean().sqrt() * torch.randn(v.shape, generator=g, dtype=v.dtype)
        for k, v in copy.items()
    }
    X = torch.randn(64, d, generator=g, dtype=torch.float64)
    answer = ResyncAnswer(tuple(tuple(int(i) for i in torch.argsort(p)) for p in shuffle))
    return ResyncProblem(fam, depth, reference, copy, X, name="tiny-resync"), answer


TINY_TRANSFORMERS = {"llama": {"n_heads": 4, "n_kv_heads": 2}, "bert": {"n_heads": 4}}


def transformer_problem(
    family: str = "llama", depth: int = 2, noise: float = 0.0, seed: int = 0
) -> tuple[ResyncProblem, ResyncAnswer]:
    """A tiny random transformer (width 16, 4 heads of 4 (llama: sharing 2 key-value heads), MLP
    24) on 5 token sequences of 8 tokens, and a copy with every layer's heads and MLP units
    permuted (then noise of ``noise`` times each tensor's RMS), with the answer."""
    options, g = TINY_TRANSFORMERS[family], torch.Generator().manual_seed(seed + 1)
    fam = get_family(family, options)
    reference = random_network(family, depth, d=16, h=24, seed=seed, options=options, k=8)
    reference = {n: v + 1 if n.endswith("norm.weight") else v for n, v in reference.items()}  # gains near 1
    sizes = {"d": 16, "v": 30, "t": 8}
    fixed = {
        n: torch.randn([sizes[x] for x in shape], generator=g, dtype=torch.float64)
        for n, shape in fam.fixed_shapes.items()
    }
    groups = block_groups(fam, depth, {"d": 16, "h": 24, "k": 8})
    shuffle = draw_perms(groups, g)
    copy = permute_state(reference, groups, shuffle)
    copy = {
        k: v + noise * v.pow(2).mean().sqrt() * torch.randn(v.shape, generator=g, dtype=v.dtype)
        for k, v in copy.items()
    }
    tokens = torch.randint(0, sizes["v"], (5, 8), generator=g)
    answer = ResyncAnswer(tuple(tuple(int(i) for i in torch.argsort(p)) for p in shuffle))
    return ResyncProblem(fam, depth, reference, copy, None, f"tiny-{family}", fixed, tokens), answer


def write_query_puzzle(root: Path, budget: int = 50, **kwargs: object) -> Path:
    """A query-only problem directory (with ``answer.json``) from :func:`make_puzzle` (``kwargs``)."""
    puzzle, answer = make_puzzle(**kwargs)  # type: ignore[arg-type]
    save_query_puzzle(puzzle, budget, root)
    save_answer(answer, root / ANSWER_NAME)
    return root


def tiny_mlp(d: int = 3, h: int = 4, o: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    """A ``d``-``h``-``o`` ReLU network's parameters whose hidden units are all active somewhere."""
    g = torch.Generator().manual_seed(seed)
    return {
        "W1": torch.randn(h, d, generator=g, dtype=torch.float64),
        "b1": 0.3 * torch.randn(h, generator=g, dtype=torch.float64),
        "W2": torch.randn(o, h, generator=g, dtype=torch.float64),
        "b2": torch.randn(o, generator=g, dtype=torch.float64),
    }
