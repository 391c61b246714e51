"""Why re-synchronising a real network fails where it does: per unit group of the perturbed copy,
how many units are *tied* (every parameter they carry equal to another unit's, so that no
weights-only method can tell them apart) and the share of distinct values left in each tensor.

    python docs/studies/resync_real_ties.py --from minilm --perturb quantize=2 --seed 0

It solves nothing: it rebuilds the copy the bench poses (same seed, same perturbations, through
``generators.real.resync.build_real_resync``) and counts, per group, the copy's units whose
concatenated parameters (weights, biases, incoming and outgoing) occur more than once. Only groups
with a tie are printed.
"""

from __future__ import annotations

import argparse

import torch

from generators.perturbation import Perturbation, parse_perturbation
from generators.real.build import RealConfig
from generators.real.resync import build_real_resync
from reassembly.resync.units import unit_matrix


def tied_units(rows: torch.Tensor) -> int:
    """How many rows of ``rows`` equal another row exactly.

    Parameters
    ----------
    rows
        ``(units, features)``.
    """
    _, inverse, counts = torch.unique(rows, dim=0, return_inverse=True, return_counts=True)
    return int((counts[inverse] > 1).sum())


def ties(source: str, perturbations: list[Perturbation], seed: int, layers: int | None = None) -> list[dict]:
    """Per group with tied units: its name, units, tied units and the distinct values of its copy's tensors.

    Parameters
    ----------
    source
        ``minilm`` or ``smollm2``.
    perturbations
        As for ``bench --perturb``.
    seed
        The problem's seed.
    layers
        Its first ``layers`` layers (all where ``None``).
    """
    problem, _, _ = build_real_resync(RealConfig(source, seed=seed, layers=layers), perturbations)
    out = []
    for g in problem.groups:
        tied = tied_units(unit_matrix(problem.copy, g))
        if tied:
            levels = {m.tensor: int(problem.copy[m.tensor].unique().numel()) for m in g.members}
            out.append({"group": g.name, "units": g.units, "tied": tied, "distinct values": levels})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="source", required=True)
    parser.add_argument("--perturb", nargs="+", default=[])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--layers", type=int)
    args = parser.parse_args()
    torch.set_num_threads(1)
    found = ties(args.source, [parse_perturbation(p) for p in args.perturb], args.seed, args.layers)
    for row in found:
        print(row)
    if not found:
        print("no tied units")


if __name__ == "__main__":
    main()
