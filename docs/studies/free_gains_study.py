"""Norm gains fitted as free vectors by the data, then matched to the pool: where does it place them?

A study on generated puzzles with a kept answer (held-out seeds, >= 100); it builds the
arrangement's components from the answer, which no solver does::

    python docs/studies/free_gains_study.py /tmp/r24/s12-100 /tmp/r24/s18-100 /tmp/r24/s24-100 /tmp/r24/s30-100

Every component (Q/K, V/O, MLP) sits at its true place; every norm slot's gain is a free vector of
the residual width, started at the mean of the whole pool (no kind, no link, no order: every slot
the same), and fitted to the rows by L-BFGS (strong Wolfe line search) on the exact loss. Each
round of ``--inner`` iterations the fitted vectors are matched to the pool's gains by the Hungarian
algorithm on the cosine of their centred values; a gain is in place where the match is the gain
the answer puts there. The fit has ``2 D d`` unknowns (``D`` layers, ``d`` residual width) against
``rows * tokens * d`` targets, so it is an over-determined regression where the components are
right; whether it finds the answer from the symmetric start is what this measures.

``--components FILE`` takes the components from a saved arrangement (e.g. the ``units`` race's)
instead of the answer; the gains in place are then counted against the true gains of the layer
whose V/O (the last kind) sits at each position.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from scipy.optimize import linear_sum_assignment

sys.path.insert(0, str(Path(__file__).parent))
from real_gains_study import _truth  # noqa: E402
from reassembly.families.base import SlotParams  # noqa: E402


def _centred(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(x - x.mean(1, keepdim=True), dim=1)


def free_fit(root: Path, rows: int, tokens: int, rounds: int, inner: int, components: Path | None) -> None:
    """Fit free gains with the components held, and print the gains placed after each round.

    Parameters
    ----------
    root
        A generated puzzle with its answer.
    rows, tokens
        The sequences and their first tokens the fit sees.
    rounds, inner
        Rounds of the fit, and L-BFGS iterations in each.
    components
        A saved arrangement whose components are held (default: the answer's).
    """
    torch.manual_seed(0)
    _, _, groups, _, ev, truth = _truth(root, rows=rows, tokens=tokens)
    stack, fam, D = ev.stack, ev.family, truth.shape[0]
    base = truth if components is None else torch.load(components, weights_only=True)
    cols = list(groups.singles[0])
    pool = stack.tensors[stack.slots[cols[0]]].weight.float()
    layer_of = {int(truth[k, groups.kinds[-1][0]]): k for k in range(D)}
    layer = [layer_of[int(base[p, groups.kinds[-1][0]])] for p in range(D)]
    want = torch.cat([truth[layer, c] for c in cols]).numpy()
    free = [torch.nn.Parameter(pool.mean(0).expand(D, -1).clone()) for _ in cols]
    opt = torch.optim.LBFGS(free, lr=1, max_iter=inner, history_size=20, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        h = ev.X
        for p in range(D):
            params = dict(stack.at(base[p].tolist()))
            for c, w in zip(cols, free):
                params[stack.slots[c]] = SlotParams(w[p])
            h = fam.layer(params, h)
        loss = ev.loss(h)
        loss.backward()
        return loss

    print(
        f"{root.name}: {D} layers, {2 * D} gains, {ev.n_rows} x {ev.X.shape[1]} positions, {torch.get_num_threads()} threads"
    )
    t0 = time.perf_counter()
    for r in range(rounds):
        loss = float(opt.step(closure).detach())  # the loss at the round's start
        fit = _centred(torch.cat([w.detach() for w in free]))
        _, match = linear_sum_assignment(-(fit @ _centred(pool).T).numpy())
        placed = int((match == want).sum())
        print(
            f"  round {r + 1}: loss {loss:.4g}, {placed}/{2 * D} in place, {time.perf_counter() - t0:.0f} s", flush=True
        )
        if placed == 2 * D and loss < 1e-2:
            break


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("puzzles", type=Path, nargs="+")
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--inner", type=int, default=10)
    parser.add_argument("--components", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1)
    a = parser.parse_args()
    torch.set_num_threads(a.threads)
    for root in a.puzzles:
        free_fit(root, a.rows, a.tokens, a.rounds, a.inner, a.components)


if __name__ == "__main__":
    main()
