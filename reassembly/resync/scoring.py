"""The referee's measures of a re-synchronisation: Ψ (share of layers whose permutation is exactly
recovered), the share of units, the parameter error of the re-synchronised copy, the copy's output
error (the perturbation's: any permutation leaves the function as it is), and the integrity flags
against the units an attack rescaled."""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch

from reassembly.errors import PermutationError
from reassembly.resync.network import forward
from reassembly.resync.problem import ResyncAnswer, ResyncProblem
from reassembly.resync.units import UnitGroup, permute_state


def _int(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise PermutationError(f"{what} holds {v!r}, which is not an integer")
    return int(v)


def check_perms(perms: Any, groups: tuple[UnitGroup, ...]) -> list[torch.Tensor]:
    """One permutation of ``0..units-1`` per group, as long tensors; else :class:`PermutationError`."""
    if not isinstance(perms, (list, tuple)) or len(perms) != len(groups):
        raise PermutationError(f"the answer must hold {len(groups)} permutations, one per layer")
    out = []
    for g, p in zip(groups, perms):
        if not isinstance(p, (list, tuple)):
            raise PermutationError(f"layer {g.name}: the answer is not a list of unit indices")
        ids = [_int(v, f"layer {g.name}") for v in p]
        if sorted(ids) != list(range(g.units)):
            raise PermutationError(f"layer {g.name}: the answer must use each unit 0..{g.units - 1} once")
        out.append(torch.tensor(ids, dtype=torch.long))
    return out


def check_flags(flags: Any, groups: tuple[UnitGroup, ...]) -> set[tuple[int, int]]:
    """Flagged ``(layer, unit)`` pairs of the reference, each within range."""
    if not isinstance(flags, (list, tuple)):
        raise PermutationError("flags must be a list of (layer, unit) pairs")
    out = set()
    for f in flags:
        if not isinstance(f, (list, tuple)) or len(f) != 2:
            raise PermutationError(f"flag {str(f)[:40]!r} is not a (layer, unit) pair")
        layer, unit = _int(f[0], "a flag"), _int(f[1], "a flag")
        if not (0 <= layer < len(groups) and 0 <= unit < groups[layer].units):
            raise PermutationError(f"flag ({layer}, {unit}) names no unit of the network")
        out.add((layer, unit))
    return out


def relative_error(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    """``||a - b|| / ||a||`` over every tensor of two state dicts with the same names."""
    num = sum(float((a[k].double() - b[k].double()).pow(2).sum()) for k in a)
    den = sum(float(a[k].double().pow(2).sum()) for k in a)
    return math.sqrt(num / den) if den > 0 else math.nan


def output_error(problem: ResyncProblem, copy: dict[str, torch.Tensor]) -> float:
    """Mean squared output difference to the reference on the problem's inputs, over the
    reference outputs' variance."""
    y = forward(problem.family, problem.depth, problem.reference, problem.X, problem.fixed)
    z = forward(problem.family, problem.depth, copy, problem.X, problem.fixed)
    return float((y - z).pow(2).mean() / y.var().clamp_min(1e-300))


def flag_metrics(flags: set[tuple[int, int]], attacked: set[tuple[int, int]]) -> dict[str, Any]:
    hit = len(flags & attacked)
    return {
        "flagged": len(flags),
        "false_flags": len(flags - attacked),
        "flag_recall": hit / len(attacked) if attacked else math.nan,
        "flag_precision": hit / len(flags) if flags else math.nan,
    }


def judge(problem: ResyncProblem, answer: ResyncAnswer | None, perms: Any, flags: Any = ()) -> dict[str, Any]:
    """Every measure of a claimed re-synchronisation (accuracies need ``answer``)."""
    groups = problem.groups
    claimed = check_perms(perms, groups)
    flagged = check_flags(flags, groups)
    resynced = permute_state(problem.copy, groups, claimed)
    out: dict[str, Any] = {
        "weight_error": relative_error(problem.reference, resynced),
        "output_error": output_error(problem, resynced),
        "layers": len(groups),
        "units": sum(g.units for g in groups),
    }
    if answer is None:
        return {**out, "exact": None, "psi": math.nan, "unit_share": math.nan, "flagged": len(flagged)}
    if len(answer.perms) != len(groups):
        raise PermutationError("the kept answer does not fit this problem")
    truth = [torch.tensor(p) for p in answer.perms]
    layer_ok = [bool(torch.equal(c, t)) for c, t in zip(claimed, truth)]
    wrong = [(g.name, int((c != t).sum())) for g, c, t, ok in zip(groups, claimed, truth, layer_ok) if not ok]
    units_ok = sum(int((c == t).sum()) for c, t in zip(claimed, truth))
    return {
        **out,
        "exact": all(layer_ok),
        "psi": sum(layer_ok) / len(groups),
        "unit_share": units_ok / out["units"],
        "layers_exact": sum(layer_ok),
        "missed": missed_text(wrong),
        **flag_metrics(flagged, set(answer.rescaled)),
    }


def missed_text(wrong: list[tuple[str, int]], shown: int = 12) -> str:
    """The groups not exactly re-synchronised, ``name:units misplaced`` (the first ``shown``, then a count)."""
    text = " ".join(f"{name}:{n}" for name, n in wrong[:shown])
    return text + (f" (+{len(wrong) - shown} more)" if len(wrong) > shown else "")
