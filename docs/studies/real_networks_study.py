"""What the grouping and ordering signals look like in the real networks (docs/real-networks.md).

For all-MiniLM-L6-v2 and SmolLM2-135M, on the true assembly of the generated puzzle (this is a
study: it reads the answer; no solver does): the paper's DDR for the MLP pieces, each circuit's
per-head unit cosine (z-scored as the ``transformer`` solver scores it), the greedy circuit
matching, the Spearman correlation of every slot's norm with depth, the seriation of each kind
(Kendall τ) and the split of the norm gains into their two chains; for SmolLM2 also the next-token
loss on its text in the true order, with llama.cpp's Q/K row layout, and in shuffled orders (the
check that the forward and the un-permuted rotary layout are right). Needs the weights in the cache
(``reassembly fetch minilm``, ``reassembly fetch smollm2``) and the ``real`` extra::

    python docs/studies/real_networks_study.py            # prints the tables, writes docs/studies/data/real-networks.json
    python docs/studies/real_networks_study.py --write    # also replaces the tables in docs/real-networks.md
"""

from __future__ import annotations

import json

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from scipy.stats import kendalltau, spearmanr

from common import DATA  # beside this script
from generators.real.build import RealConfig, build_real
from solvers.grouping import ddr_scores
from solvers.transformer.circuits import circuit_scores, match_circuits, zscores
from solvers.transformer.seriation import bisect, seriate

MLP = {"bert": ("inp", "out", None), "llama": ("up", "down", "gate")}


def _pairs(score: np.ndarray) -> dict:
    """Diagonal (true pairs) against off-diagonal, and the Hungarian assignment's accuracy."""
    off = score[~np.eye(len(score), dtype=bool)]
    _, cols = linear_sum_assignment(score, maximize=True)
    return {
        "true_min": float(score.diagonal().min()),
        "true_median": float(np.median(score.diagonal())),
        "other_max": float(off.max()),
        "hungarian": float(np.mean(cols == np.arange(len(score)))),
    }


def study(name: str) -> dict:
    puzzle, answer, meta = build_real(RealConfig(name, rows=4))
    fam, truth = puzzle.family, answer.assembly(puzzle.layout)
    slots = puzzle.layout.block_slots
    by_slot = {s: [b[j] for b in truth.blocks] for j, s in enumerate(slots)}
    weights = lambda s: torch.stack([puzzle.pieces[i].weight for i in by_slot[s]]).double()  # noqa: E731
    out: dict = {"depth": puzzle.depth, "pieces": len(puzzle.pieces)}
    read, write, gate = MLP[fam.name]
    out["ddr"] = {f"{write}·{read}": _pairs(ddr_scores(weights(read), weights(write)).numpy())}
    if gate:
        out["ddr"][f"{write}·{gate}"] = _pairs(ddr_scores(weights(gate), weights(write)).numpy())
    out["circuits"] = {}
    for c in fam.circuits:
        z = zscores(circuit_scores(puzzle, c))
        ra = {p: i for i, p in enumerate(puzzle.layout.pools[c.a])}
        rb = {p: i for i, p in enumerate(puzzle.layout.pools[c.b])}
        sub = z[[ra[p] for p in by_slot[c.a]]][:, [rb[p] for p in by_slot[c.b]]].numpy()
        out["circuits"][f"{c.a}-{c.b} ({c.kind})"] = _pairs(sub)
    comps = match_circuits(puzzle)
    block_of = {p: k for k, b in enumerate(truth.blocks) for p in b}
    role_of = {p: s for b in truth.blocks for s, p in zip(slots, b)}
    out["matching"] = {
        "components": len(comps.members),
        "same_block": sum(len({block_of[p] for p in m.values()}) == 1 for m in comps.members),
        "roles_right": sum(all(role_of[p] == s for s, p in m.items()) for m in comps.members),
        "orientation_left_to_data": sum(bool(u) for u in comps.unsure),
    }
    out["norm_vs_depth"] = {
        s: float(spearmanr(range(puzzle.depth), weights(s).flatten(1).norm(dim=1)).statistic) for s in slots
    }
    kinds = {}
    for m in comps.members:
        kinds.setdefault("+".join(sorted(m)), []).append(m)
    scale = [s.name for s in fam.slots if s.role == "scale"]
    for s in scale:
        kinds[s] = [{s: p} for p in by_slot[s]]
    out["seriation_tau"] = {}
    for kind, members in kinds.items():
        members = sorted(members, key=lambda m: block_of[next(iter(m.values()))])
        order = seriate(puzzle, members)
        out["seriation_tau"][kind] = abs(float(kendalltau(range(len(order)), order).statistic))
    gains = [{scale[0]: p} for s in scale for p in by_slot[s]]
    half, _ = bisect(puzzle, gains)
    share = np.mean([role_of[gains[i][scale[0]]] == scale[0] for i in half])
    purity = max(share, 1 - share)
    out["norm_chains_split"] = float(purity)
    if fam.name == "llama":
        out["next_token_loss"] = next_token_losses(puzzle, answer, meta)
    if fam.name == "bert":
        out["key_bias_norm"] = [float(puzzle.pieces[p].bias.norm()) for p in by_slot["k"]]
        out["query_bias_norm"] = [float(puzzle.pieces[p].bias.norm()) for p in by_slot["q"]]
    return out


def next_token_losses(puzzle, answer, meta) -> dict:
    from generators.real.check import language_model_head, next_token_loss
    from generators.real.fetch import weights_dir
    from reassembly.kernel import PieceStack

    head, tokens = language_model_head(weights_dir("smollm2")), torch.tensor(meta["vocab"])[puzzle.tokens]
    truth = PieceStack(puzzle).arrangement(answer.assembly(puzzle.layout))
    gen = torch.Generator().manual_seed(0)
    swap = torch.arange(puzzle.depth)
    swap[[3, 4]] = swap[[4, 3]]
    return {
        "true": next_token_loss(puzzle, truth, head, tokens),
        "llama.cpp Q/K layout": next_token_loss(puzzle, truth, head, tokens, stored=True),
        "layers 3 and 4 swapped": next_token_loss(puzzle, truth[swap], head, tokens),
        "shuffled (mean of 3)": float(
            np.mean(
                [
                    next_token_loss(puzzle, truth[torch.randperm(puzzle.depth, generator=gen)], head, tokens)
                    for _ in range(3)
                ]
            )
        ),
    }


def table(results: dict) -> str:
    lines = []
    for name, r in results.items():
        lines.append(f"\n### {name} ({r['depth']} layers, {r['pieces']} pieces)\n")
        lines.append("| signal | true pairs: min | median | best wrong pair | Hungarian |\n|---|---|---|---|---|")
        for kind, key in (("DDR", "ddr"), ("z of circuit", "circuits")):
            for label, s in r[key].items():
                lines.append(
                    f"| {kind} {label} | {s['true_min']:.3g} | {s['true_median']:.3g} | {s['other_max']:.3g} | {s['hungarian']:.0%} |"
                )
        m = r["matching"]
        lines.append(
            f"\nGreedy circuit matching: {m['components']} components, {m['same_block']} within one layer, "
            f"{m['roles_right']} with every role right ({m['orientation_left_to_data']} left to data).\n"
        )
        lines.append("| slot | Spearman(norm, depth) |\n|---|---|")
        lines += [f"| {s} | {v:+.2f} |" for s, v in r["norm_vs_depth"].items()]
        lines.append("\n| kind | seriation \\|τ\\| |\n|---|---|")
        lines += [f"| {k} | {v:.2f} |" for k, v in r["seriation_tau"].items()]
        lines.append(f"\nNorm gains split into two chains by the Fiedler vector: {r['norm_chains_split']:.0%} pure.")
        if "key_bias_norm" in r:
            lines.append(
                f"\nKey bias norms {', '.join(f'{v:.3f}' for v in r['key_bias_norm'])}; query bias norms "
                f"{', '.join(f'{v:.2f}' for v in r['query_bias_norm'])}."
            )
    return "\n".join(lines)


def loss_table(losses: dict) -> str:
    lines = ["| SmolLM2 layers | next-token loss (nats) |", "|---|---|"]
    return "\n".join(lines + [f"| {k} | {v:.3f} |" for k, v in losses.items()])


if __name__ == "__main__":
    import sys

    from real_networks_table import write_block  # beside this script

    results = {name: study(name) for name in ("minilm", "smollm2")}
    (DATA / "real-networks.json").write_text(json.dumps(results, indent=1) + "\n")
    blocks = {"smollm2-loss": loss_table(results["smollm2"]["next_token_loss"]), "signals": table(results).strip()}
    for name, text in blocks.items():
        print(text + "\n")
        if "--write" in sys.argv[1:]:
            write_block(name, text)
