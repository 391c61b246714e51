"""Why re-synchronising a real network fails where it does: per unit group of the perturbed copy,
how many units are *tied* (every parameter they carry equal to another unit's, so that no
weights-only method can tell them apart), how many of those carry nothing but zeros (pruned
away), and the number of distinct values left in each tensor.

    python docs/studies/resync_real_ties.py --from minilm --perturb quantize=2 --seed 0
    python docs/studies/resync_real_ties.py --from minilm --perturb quantize=2 --seed 0 --solver resync-match

It rebuilds the copy the bench poses (same seed, same perturbations, through
``generators.real.resync.build_real_resync``) and counts, per group, the copy's units whose
concatenated parameters (weights, biases, incoming and outgoing) occur more than once. Only groups
with a tie are printed. With ``--solver`` it is a diagnostic of that solver against the truth
(the solver sees only the problem; the count uses the answer): per group, the units it misplaces,
and how many of those it put on a copy unit whose parameters equal the right one's (a swap no
weights-only method can see, and one that leaves the copy's function as it is). The reported
numbers are the bench's (``tasks_resync.py``); this only explains them.
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
        rows = unit_matrix(problem.copy, g)
        tied = tied_units(rows)
        if tied:
            levels = {m.tensor: int(problem.copy[m.tensor].unique().numel()) for m in g.members}
            zero = int((rows == 0).all(dim=1).sum())
            out.append({"group": g.name, "units": g.units, "tied": tied, "all zero": zero, "distinct values": levels})
    return out


def misplaced(
    source: str, perturbations: list[Perturbation], seed: int, solver: str, layers: int | None = None
) -> list[dict]:
    """Per group the solver gets wrong: units misplaced, and how many of them sit on a copy unit
    identical to the right one.

    Parameters
    ----------
    source, perturbations, seed, layers
        As for :func:`ties`.
    solver
        A registered resync solver's name.
    """
    from reassembly.registry import get_solver

    problem, answer, _ = build_real_resync(RealConfig(source, seed=seed, layers=layers), perturbations)
    claimed = get_solver(solver).solve(problem).perms
    out = []
    for g, c, t in zip(problem.groups, claimed, answer.perms):
        c, t = torch.tensor(c), torch.tensor(t)
        wrong = torch.nonzero(c != t).flatten()
        if len(wrong):
            rows = unit_matrix(problem.copy, g)
            same = int(sum(bool(torch.equal(rows[c[i]], rows[t[i]])) for i in wrong))
            out.append({"group": g.name, "misplaced": len(wrong), "onto an identical unit": same})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="source", required=True)
    parser.add_argument("--perturb", nargs="+", default=[])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--layers", type=int)
    parser.add_argument("--solver", help="also: what this solver misplaces, against the truth")
    args = parser.parse_args()
    torch.set_num_threads(1)
    perturbations = [parse_perturbation(p) for p in args.perturb]
    if args.solver:
        for row in misplaced(args.source, perturbations, args.seed, args.solver, args.layers):
            print(row)
    found = ties(args.source, perturbations, args.seed, args.layers)
    for row in found:
        print(row)
    if not found:
        print("no tied units")


if __name__ == "__main__":
    main()
