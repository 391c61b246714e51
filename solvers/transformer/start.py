"""Starting arrangements: circuit components of each kind in seriation order, norm gains (pieces no
circuit places) along their own seriation path, every combination of directions, the best by data."""

from __future__ import annotations

import itertools

import torch

from reassembly.answer import Assembly
from reassembly.kernel import Evaluator, PieceStack
from reassembly.puzzle import Puzzle
from solvers.transformer.circuits import Components
from solvers.transformer.linking import linked_units, runs_along
from solvers.transformer.moves import Groups, sublayers
from solvers.transformer.seriation import bisect, seriate, smoothest_path


def _single_layouts(
    puzzle: Puzzle, pieces: list[int], slots: tuple[str, ...], depth: int
) -> list[list[dict[str, int]]]:
    """Ways to spread ``len(slots) * depth`` pieces of one pool over the blocks' ``slots``: along one
    seriation path read in consecutive segments or interleaved; for two slots also as two halves
    (:func:`~solvers.transformer.seriation.bisect`) seriated apart; each slot order, each direction."""
    m, out = len(slots), []
    members = [{slots[0]: pid} for pid in pieces]
    path = [pieces[i] for i in seriate(puzzle, members)]
    for seq in (path, path[::-1]):
        for order in itertools.permutations(slots):
            out.append([{s: seq[j * depth + k] for j, s in enumerate(order)} for k in range(depth)])
            if m > 1:
                out.append([{s: seq[k * m + j] for j, s in enumerate(order)} for k in range(depth)])
    if m == 2:
        halves = [[pieces[i] for i in h] for h in bisect(puzzle, members)]
        chains = [[h[i] for i in seriate(puzzle, [{slots[0]: pid} for pid in h])] for h in halves]
        for first, second in itertools.product((chains[0], chains[0][::-1]), (chains[1], chains[1][::-1])):
            for a, b in ((first, second), (second, first)):
                out.append([{slots[0]: a[k], slots[1]: b[k]} for k in range(depth)])
    return out


def plan(
    puzzle: Puzzle, comps: Components, link: bool = True, align: bool = True
) -> tuple[Groups, list[list[list[dict[str, int]]]]]:
    """Column groups and, per group (kinds, then pools of single pieces), the candidate per-block
    slot values in seriation order (both directions; for single pieces, every reading of the path).

    Parameters
    ----------
    puzzle
        A puzzle of a family with circuits.
    comps
        Its circuit components.
    link
        Link the kinds that write into the residual stream into one unit per layer by what they
        write (:func:`~solvers.transformer.linking.linked_units`) and seriate the units; else every
        kind is seriated on its own.
    align
        Where units are linked, run every other kind's seriation path the way the units' path
        runs, judged by what both read (:func:`~solvers.transformer.linking.runs_along`), so the
        data chooses one direction for both; else each kind's direction is chosen on its own.
    """
    layout, D = puzzle.layout, puzzle.depth
    slots = layout.block_slots
    by_kind: dict[tuple[str, ...], list[dict[str, int]]] = {}
    for m in comps.members:
        by_kind.setdefault(tuple(sorted(m)), []).append(m)
    kinds = {k: v for k, v in by_kind.items() if len(v) == D}
    placed = {pid for members in kinds.values() for m in members for pid in m.values()}
    units = linked_units(puzzle, kinds) if link else None
    options: list[list[list[dict[str, int]]]] = []
    joined, held = None, tuple(units[0]) if units else ()
    if units:
        joined = [units[i] for i in smoothest_path(puzzle, units, [k for k in kinds if set(k) <= set(units[0])])]
    for kind, members in kinds.items():
        if units and set(kind) <= set(units[0]):
            continue
        unsure = any(set(pair) <= set(kind) for u in comps.unsure for pair in u)
        path = [members[i] for i in seriate(puzzle, members, unsure)]
        if joined is not None and align:
            # run along the units' path, the way their reads agree (one direction choice for both);
            # held with the units first unless its pairs' orientation is left to the data
            path = path if runs_along(puzzle, joined, path) else path[::-1]
            joined = [{**u, **m} for u, m in zip(joined, path)]
            held += () if unsure else kind
        else:
            options.append([path, path[::-1]])
    if joined is not None:
        options.insert(0, [joined, joined[::-1]])
    singles: dict[tuple[int, ...], tuple[str, ...]] = {}
    for s in slots:
        if not any(s in k for k in kinds):
            singles.setdefault(layout.pools[s], ())
            singles[layout.pools[s]] += (s,)
    for pool, names in singles.items():
        options.append(_single_layouts(puzzle, [pid for pid in pool if pid not in placed], names, D))
    flips = {pair for u in comps.unsure for pair in u}
    kind_cols = tuple(tuple(slots.index(s) for s in k) for k in kinds)
    single_cols = tuple(tuple(slots.index(s) for s in names) for names in singles.values())
    groups = Groups(
        kind_cols,
        single_cols,
        tuple((slots.index(a), slots.index(b)) for a, b in sorted(flips)),
        sublayers(kind_cols, single_cols, len(slots)),
        tuple(sorted(slots.index(s) for s in held)),
    )
    return groups, options


def arrangement(stack: PieceStack, choice: tuple[list[dict[str, int]], ...]) -> torch.Tensor:
    """The arrangement whose block ``k`` takes the slot values of every group's ``choice[g][k]``."""
    D, slots = len(choice[0]), stack.slots
    blocks = [{s: v for part in choice for s, v in part[k].items()} for k in range(D)]
    return stack.arrangement(Assembly(tuple(tuple(b[s] for s in slots) for b in blocks), ()))


def best_start(
    ev: Evaluator, options: list[list[list[dict[str, int]]]], budget: int = 1024
) -> tuple[torch.Tensor, int]:
    """The combination of options with the lowest loss on ``ev``'s rows: every combination where
    they cost at most ``budget`` block evaluations, else one group after another (each group's
    options with the others fixed, two passes). Returns it and how many were evaluated."""
    depth = len(options[0][0])
    combos = list(itertools.product(*options))
    if len(combos) * depth <= budget:
        losses = ev.run(torch.stack([arrangement(ev.stack, c) for c in combos]))
        return arrangement(ev.stack, combos[int(torch.argmin(losses))]), len(combos)
    choice, tried = [0] * len(options), 0
    for _ in range(2):
        for g, opts in enumerate(options):
            trial = [choice[:g] + [k] + choice[g + 1 :] for k in range(len(opts))]
            losses = ev.run(
                torch.stack([arrangement(ev.stack, tuple(o[i] for o, i in zip(options, c))) for c in trial])
            )
            choice[g], tried = int(torch.argmin(losses)), tried + len(trial)
    return arrangement(ev.stack, tuple(o[i] for o, i in zip(options, choice))), tried
