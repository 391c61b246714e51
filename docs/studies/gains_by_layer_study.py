"""With the race's components, should each norm gain follow its position or its layer?

A study on generated puzzles with a kept answer (held-out seeds, >= 100); it builds gains from
the answer, which no solver does::

    python docs/studies/gains_by_layer_study.py /tmp/r24/s30-100
    python docs/studies/gains_by_layer_study.py /tmp/r24/s30-100 --components race.pt --save race.pt

Takes the components the solver's ``units`` race ends with (run here on the solver's rows and time
share, or read from ``--components``; ``--save`` keeps the race's arrangement for another run),
then puts the true norm gains in two ways: *by position* (the gain the answer puts at each
position) and *by layer* (each attention norm with the V/O beside it, each MLP norm with the MLP
beside it, wherever the race put those). Prints both exact losses and, from the gains by layer,
a greedy descent that takes at each step the best exchange of two neighbouring positions' whole
layers, attention sublayers (norm gain, Q/K, V/O) or MLP sublayers (norm gain, MLP), while the
loss falls; and what is left wrong. ``--own`` descends from the arrangement's own gains instead.
``--stage SECONDS`` runs the solver's ``chains`` stage (with its carried moves) from the
arrangement for that long instead, and prints its passes and what it leaves wrong::

    python docs/studies/gains_by_layer_study.py /tmp/r24/s30-100 --components race.pt --stage 500
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from solvers.transformer.chains import GainChains

sys.path.insert(0, str(Path(__file__).parent))
from real_gains_study import _race, _truth  # noqa: E402


def by_layer(
    root: Path, components: Path | None, save: Path | None, own: bool = False, stage: float | None = None
) -> None:
    """Print the losses of the race's components with the true gains by position and by layer,
    and the greedy descent of neighbour exchanges of whole layers and sublayers from the latter.

    Parameters
    ----------
    root
        A generated puzzle with its answer.
    components
        A saved arrangement to take the components from (default: run the race).
    save
        Where to save the race's arrangement (only where it is run here).
    own
        Start the greedy descent from the arrangement's own gains instead of the true gains by
        layer (e.g. the chains stage's placement around the race's components).
    stage
        Run the ``chains`` stage from the arrangement for this many seconds instead of the
        greedy descent.
    """
    if components is None:
        ev, groups, truth, arr, _ = _race(root)
        if save is not None:
            torch.save(arr, save)
    else:
        _, _, groups, _, ev, truth = _truth(root, rows=4)
        arr = torch.load(components, weights_only=True)
    D, S, slots = truth.shape[0], truth.shape[1], ev.stack.slots
    norms = list(groups.singles[0])
    kind = {slots[k[0]]: list(k) for k in groups.kinds}
    attention = [norms[0]] + [c for k in groups.kinds if not set(k) & set(kind.get("down", [])) for c in k]
    mlp = [norms[1]] + kind["down"]

    def loss(a: torch.Tensor) -> float:
        return float(ev.run(a[None])[0])

    def layer_of(cols: list[int], p: int) -> int:
        return next(k for k in range(D) if truth[k, cols[0]] == arr[p, cols[0]])

    by_position, layered = arr.clone(), arr.clone()
    by_position[:, norms] = truth[:, norms]
    for p in range(D):
        layered[p, norms[0]] = truth[layer_of(kind["o"], p), norms[0]]
        layered[p, norms[1]] = truth[layer_of(kind["down"], p), norms[1]]
    print(
        f"{root.name}: components given {loss(arr):.4g}; true gains by position {loss(by_position):.4g}, by layer {loss(layered):.4g}"
    )
    if stage is not None:
        t0 = time.perf_counter()
        end, details = GainChains(steps=10**6, share=1.0).run(ev, arr, groups, ev.clock() + stage)
        passes = ", ".join(f"{x:.4g}" for x in details["losses"])
        whole = sum(all(end[p, c] == truth[p, c] for c in range(S) if c not in norms) for p in range(D))
        gains = int((end[:, norms] == truth[:, norms]).sum())
        print(
            f"  chains stage ({time.perf_counter() - t0:.0f} s; start {details['start']}, restarted {details['restarted']}, carried moves {details['carried']}): {passes}"
        )
        print(f"  components whole in {whole} of {D} layers, gains in place {gains} of {2 * D}")
        _left_wrong(end, truth, slots)
        return
    cur = arr.clone() if own else layered
    if own:
        print(f"  from the arrangement's own gains ({loss(cur):.4g})")
    best, steps = loss(cur), []
    moves = {"layer": list(range(S)), "attention": attention, "mlp": mlp}
    while True:
        cands = []
        for p in range(D - 1):
            for name, cols in moves.items():
                x = cur.clone()
                x[p, cols], x[p + 1, cols] = cur[p + 1, cols], cur[p, cols]
                cands.append((loss(x), name, p, x))
        value, name, p, x = min(cands, key=lambda c: c[0])
        if value >= best:
            break
        cur, best = x, value
        steps.append(f"{name} {p}-{p + 1}: {value:.4g}")
    print("  greedy exchanges: " + "; ".join(steps))
    _left_wrong(cur, truth, slots)


def _left_wrong(arr: torch.Tensor, truth: torch.Tensor, slots: tuple[str, ...]) -> None:
    D, S = truth.shape
    wrong = sorted({f"{p}:{slots[c]}" for p in range(D) for c in range(S) if arr[p, c] != truth[p, c]})
    print(f"  left wrong ({len(wrong)}): {' '.join(wrong) or 'nothing'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("puzzle", type=Path)
    parser.add_argument("--components", type=Path, default=None)
    parser.add_argument("--save", type=Path, default=None)
    parser.add_argument("--own", action="store_true", help="descend from the arrangement's own gains")
    parser.add_argument("--stage", type=float, default=None, help="run the chains stage for this many seconds")
    parser.add_argument("--threads", type=int, default=1)
    a = parser.parse_args()
    torch.set_num_threads(a.threads)
    by_layer(a.puzzle, a.components, a.save, a.own, a.stage)


if __name__ == "__main__":
    main()
