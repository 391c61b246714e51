"""Norm gains at depth: can the search place them when every component is already right?

A study on generated puzzles with a kept answer (held-out seeds, >= 100); it builds arrangements
from the answer, which no solver does::

    python docs/studies/real_gains_study.py search /tmp/r24/s18-100 --gains start --time-limit 300
    python docs/studies/real_gains_study.py search /tmp/r24/s30-100 --gains seriated --rows 8
    python docs/studies/real_gains_study.py sink /tmp/r24/s30-100
    python docs/studies/real_gains_study.py lens /tmp/r24/s30-100
    python docs/studies/real_gains_study.py meanfield /tmp/r24/s30-100
    python docs/studies/real_gains_study.py saturation /tmp/r24/s30-100
    python docs/studies/real_gains_study.py links /tmp/r24/s30-100
    python docs/studies/real_gains_study.py softassign /tmp/r24/s18-100 --base start
    python docs/studies/real_gains_study.py marginal /tmp/r24/s18-100
    python docs/studies/real_gains_study.py split /tmp/r24/s12-101
    python docs/studies/real_gains_study.py plateau /tmp/r24/s12-101 --components true start
    python docs/studies/real_gains_study.py kinds /tmp/r24/s6-100 /tmp/r24/s12-100 /tmp/r24/s30-100
    python docs/studies/real_gains_study.py components /tmp/r24/s18-100 /tmp/r24/s18-101 /tmp/r24/s30-100
    python docs/studies/real_gains_study.py margins /tmp/r24/s18-100 /tmp/r24/s30-100
    python docs/studies/real_gains_study.py attention /tmp/r24/s12-100 /tmp/r24/s18-100 /tmp/r24/s24-100 /tmp/r24/s30-100
    python docs/studies/real_gains_study.py pooled /tmp/r24/s18-100 --seconds 15 --rounds 4
    python docs/studies/real_gains_study.py raced /tmp/r24/s24-100
    python docs/studies/real_gains_study.py chains /tmp/r24/s12-100 /tmp/r24/s18-100 /tmp/r24/s24-100 /tmp/r24/s30-100
    python docs/studies/real_gains_study.py gainchains /tmp/r24/s30-100 /tmp/r24/s24-100 --seconds 400
    python docs/studies/real_gains_study.py gainsplit /tmp/r24/s6-100 /tmp/r24/s30-100 /tmp/real2/minilm-l6-s0

``search``: every component (Q/K, V/O, MLP) at its true place, the norm gains as the solver's start
puts them (``start``), or each true kind of gain (after attention, after the MLP) in its own
seriation order by raw gain values, the right way round (``seriated``: what a perfect split of the
pool into its two kinds would give), or each true kind shuffled (``random``); then the solver's
search (`LocalSearch`) for ``--time-limit`` seconds on ``--rows`` sequences of ``--tokens`` tokens.
Prints the loss and the gains in place as it goes. ``--exchanges o:4:5+k:12:13`` starts with those
components exchanged (as ``plateau``'s).

``sink``: the first token of every sequence, the only one whose attention does not depend on Q/K
(it attends to itself alone): how alike its states are across sequences, layer by layer, and how
much exchanging two neighbouring layers' pieces of each kind changes the loss on that token alone.

``lens``: with the true prefix, each position's candidates of one kind (or every gain, in either
norm slot) judged by the loss of the state after that position put through the head, as if the
network ended there; the rank of the true piece.

``meanfield``: gains judged front to back with the suffix's gains replaced by the mean of the
gains left (see :func:`meanfield`).

``saturation``: the exact loss of the true arrangement with its gains disturbed (neighbours
exchanged, a run of one kind reversed, every gain but some layers' shuffled): how far from the
answer the loss still says which way to go.

``links``: whether a gain's weights tell which layer's pieces it goes with: the correlation over
the residual dimensions of its log magnitudes with the log column norms of the pieces it feeds and
the log row norms of the piece that writes its sublayer's output (each with the mean over layers
removed), true layer against the others.

``softassign``: the gains placed by a relaxed fit whose mixture weights are kept a doubly
stochastic matrix (Sinkhorn normalisation of ``exp(logits / tau)``) while ``tau`` is annealed
toward a permutation (Gold & Rangarajan's softassign), from the true components (``--base truth``)
or the solver's start (``--base start``); the rounded placement and its exact loss as it goes.

``marginal``: the loss of a fit of the gains' mixture weights (the solver's ``marginal`` stage's
judge) for the true components, the start's, and the truth with one kind's components exchanged
between two neighbouring positions: does it tell right components from their neighbours?

``split``: the same fit for the true components with each norm slot mixing the whole pool, only
the gains of its true kind (attention or MLP), or only those its column holds in the solver's
start (the start's split of the pool by kind); then, for the start's split, the excluded gains
each slot's loss slopes most toward mixing in (a gradient price), with their true kind and layer.

``plateau``: the ``marginal`` stage's first fit (every norm slot mixing the whole pool, from the
uniform mixture) run on in chunks of L-BFGS steps, for the true components, the start's, or the
true ones with some exchanged (``o:16:17+k:16:17``: both attention kinds of positions 16 and 17);
after each chunk the fit loss, its rounding's exact loss and how many gains the rounding places;
``--init column`` starts each slot uniform over the gains its column holds in the start;
``--rows``/``--tokens``/``--seed`` fit on another draw of sequences, or more of them with fewer
tokens each (the start stays the solver's).

``kinds``: for each puzzle, how many gains the start's split of the pool puts in the other kind's
column (the split by weights: :func:`~solvers.transformer.seriation.bisect`).

``components``: for each puzzle, where the start puts each kind's components: per position, the
true position of the component placed there (``.`` where it is the right one). The start reads the
weights alone, so it is the same for every seed of one network's rung.

``margins``: for each pair of neighbouring layers, by how much the link by writes
(:func:`~solvers.transformer.linking.link`'s similarity) prefers the true pairing of their V/O and
MLP components to the exchanged one, and by how much Q/K's seriation path (``1 -`` the circuit
similarity) is shorter in the true order than with the two exchanged (negative: the weights
prefer the wrong one); then which K the Hungarian algorithm on the K and V pieces' read Grams
pairs with another layer's V, and that link's margins.

``pooled``: the ``units`` stage's arrangements (``.`` keeps a least sure link, ``x`` exchanges it),
each searched for ``--seconds`` per round, all going on each round; after each round every
arrangement's components judged with every arrangement's gains (the stage's ``share_gains``).

``raced``: the same for what the solver's ``units`` stage ends with (its race run as in a solve).

``chains``: whether the gains form two chains by their raw values (centred and scaled, as
correlations): how often a gain's nearest neighbour is of its own kind; a spectral split of the
graph joining each gain to its two nearest into halves, and how well it splits the kinds; each
half's seriation path; and every reading of the two paths with the true components, judged by
the exact loss.

``attention``: Q/K placed by the weights given where the V/O components are (the truth's places,
or the solver's start's): the placement that maximises the z-scored read similarity of each K to
the V at its position plus ``--path`` times the z-scored circuit similarity of Q/K neighbours
along the positions, by exchanges of two from the start's Q/K placement until none improves it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import kendalltau

from reassembly.answer import load_answer
from reassembly.families.base import SlotParams
from reassembly.loader import load_puzzle
from solvers.rows import evaluator
from solvers.transformer import TransformerSolver
from solvers.transformer.seriation import shortest_path
from solvers.transformer.start import best_start


def _truth(root: Path, rows: int = 2, tokens: int | None = 8, seed: int = 0):
    """A generated puzzle, its answer, the solver's column groups, start options and evaluator (on
    ``rows`` sequences of ``tokens`` tokens, drawn with ``seed``), and the true arrangement."""
    puzzle, answer = load_puzzle(root), load_answer(root / "answer.json")
    _, groups, options, ev, _ = TransformerSolver(rows=rows, states=1, tokens=tokens, random_state=seed).prepare(puzzle)
    return puzzle, answer, groups, options, ev, ev.stack.arrangement(answer.assembly(puzzle.layout))


def _exchange(arr: torch.Tensor, groups, slots: tuple[str, ...], spec: str) -> None:
    """Exchange, in place, the components of one kind at two positions: ``spec`` is ``KIND:P:Q``
    (``KIND`` a slot of the kind, e.g. ``o``, ``k`` or ``down``)."""
    slot, p, q = spec.split(":")
    cols = torch.tensor([list(next(k for k in groups.kinds if slots.index(slot) in k))])
    rows = torch.tensor([[int(p)], [int(q)]])
    arr[rows, cols] = arr[rows.flip(0), cols].clone()


def _gains(arr: torch.Tensor, truth: torch.Tensor, cols: tuple[int, ...], pool: torch.Tensor, how: str) -> None:
    """Put each true kind of gain into its column of ``arr`` in the order ``how`` says (in place)."""
    rng = np.random.default_rng(0)
    D = truth.shape[0]
    for c in cols:
        ids = truth[:, c]
        if how == "random":
            arr[:, c] = ids[torch.as_tensor(rng.permutation(D))]
            continue
        p = pool[ids].double()
        p = torch.nn.functional.normalize(p - p.mean(1, keepdim=True), dim=1)
        path = shortest_path((p @ p.T).numpy())
        if kendalltau(range(D), path)[0] < 0:
            path = path[::-1]
        arr[:, c] = ids[torch.as_tensor(path)]


def search(root: Path, gains: str, time_limit: float, rows: int, tokens: int, exchanges: str | None = None) -> None:
    """Run the search from the true components (or with some exchanged) with the gains placed as
    ``gains`` says.

    Parameters
    ----------
    root
        A generated puzzle with its ``answer.json``.
    gains
        ``start``, ``seriated`` or ``random`` (see the module docstring).
    time_limit
        Seconds of search.
    rows, tokens
        The search's sequences and tokens per sequence.
    exchanges
        Exchanges of the true components joined by ``+`` (``KIND:P:Q``, as ``plateau``'s), or none.
    """
    torch.set_num_threads(1)
    puzzle, answer = load_puzzle(root), load_answer(root / "answer.json")
    solver = TransformerSolver(rows=rows, states=1, tokens=tokens)
    t0 = time.monotonic()
    _, groups, options, ev, floor = solver.prepare(puzzle)
    truth = ev.stack.arrangement(answer.assembly(puzzle.layout))
    cols = groups.singles[0]
    if gains == "start":
        start, _ = best_start(ev, options)
        arr = truth.clone()
        arr[:, list(cols)] = start[:, list(cols)]
    else:
        arr = truth.clone()
        _gains(arr, truth, cols, ev.stack.tensors[ev.stack.slots[cols[0]]].weight, gains)
    for ex in exchanges.split("+") if exchanges else ():
        _exchange(arr, groups, ev.stack.slots, ex)

    def report(a: torch.Tensor, tag: str) -> None:
        right = int((a[:, list(cols)] == truth[:, list(cols)]).sum())
        loss = float(ev.loss(ev.states(a)[-1]))
        print(
            f"{time.monotonic() - t0:7.1f} s  {tag:5s} loss {loss:.4g}  gains in place {right}/{len(cols) * len(a)}"
            f"  layers whole {int((a == truth).all(1).sum())}/{len(a)}",
            flush=True,
        )

    report(arr, "from")
    last = [time.monotonic()]

    def on_move(a: torch.Tensor, _loss: float) -> None:
        if time.monotonic() - last[0] > 20:
            last[0] = time.monotonic()
            report(a, "move")

    arr, _, log = solver.search.run(ev, arr, groups, floor, ev.clock() + time_limit, np.random.default_rng(0), on_move)
    report(arr, "end")
    print(f"stop: {log.stop}; moves: {log.moves}")


def sink(root: Path) -> None:
    """The first token's states and losses (see the module docstring).

    Parameters
    ----------
    root
        A generated puzzle with its ``answer.json``.
    """
    puzzle, _, groups, _, ev, truth = _truth(root)
    every = evaluator(puzzle, ev.stack, ())
    first = every.with_rows(every.X[:, :1], every.target[:, :1])
    states = first.states(truth)
    D = truth.shape[0]
    print("| layer | state norm | mean cosine between sequences |\n|---|---|---|")
    for k in range(0, D + 1, max(1, D // 6)):
        h = states[k].reshape(first.n_rows, -1).double()
        c = torch.nn.functional.normalize(h, dim=1) @ torch.nn.functional.normalize(h, dim=1).T
        print(
            f"| {k} | {float(h.norm(dim=1).mean()):.0f} | {float(c[~torch.eye(len(c), dtype=torch.bool)].mean()):.3f} |"
        )
    print(f"\nmean squared target {float(first.target.pow(2).mean()):.3g}; loss of neighbouring exchanges:\n")
    print("| columns | median | largest | largest at layers |\n|---|---|---|---|")
    for cols in [*groups.kinds, *((c,) for c in groups.singles[0])]:
        losses = []
        for a in range(D - 1):
            arr = truth.clone()
            arr[a, list(cols)], arr[a + 1, list(cols)] = truth[a + 1, list(cols)], truth[a, list(cols)]
            losses.append(float(first.loss(first.states(arr)[-1])))
        names = "+".join(ev.stack.slots[c] for c in cols)
        at = int(np.argmax(losses))
        print(f"| {names} | {np.median(losses):.2g} | {max(losses):.2g} | {at}, {at + 1} |")


def lens(root: Path, rows: int) -> None:
    """From the true prefix, the rank of the true piece at each position among the candidates of
    its kind, judged by the loss of the state after that position put through the head.

    Parameters
    ----------
    root
        A generated puzzle with its ``answer.json``.
    rows
        Sequences (all their tokens).
    """
    _, _, groups, _, ev, truth = _truth(root, rows, None)
    states = ev.states(truth)
    gains = groups.singles[0]
    pool_of_gains = torch.cat([truth[:, c] for c in gains])
    print("| columns | rank of the true piece at positions 0, 1, ... (0: the best) |\n|---|---|")
    for cols in [*groups.kinds, *((c,) for c in gains)]:
        pool = pool_of_gains[:, None] if cols[0] in gains else truth[:, list(cols)]
        ranks = []
        for p in range(truth.shape[0]):
            cands = truth[p].repeat(len(pool), 1)
            cands[:, list(cols)] = pool
            losses = torch.stack([ev.loss(ev.stack.compiled(row)(states[p])) for row in cands.tolist()])
            true_loss = losses[int((pool == truth[p, list(cols)]).all(1).nonzero()[0])]
            ranks.append(int((losses < true_loss).sum()))
        print(f"| {'+'.join(ev.stack.slots[c] for c in cols)} | {' '.join(map(str, ranks))} |")


def meanfield(root: Path, positions: list[int]) -> None:
    """With every component and the gains before ``p`` at their true places and every later gain
    the mean of the gains left, the rank of the true gain at ``p`` among those left (each norm slot
    in turn; the other slot of ``p`` holds its true gain, or the mean while the first is judged).

    Parameters
    ----------
    root
        A generated puzzle with its ``answer.json``.
    positions
        The positions ``p`` to judge.
    """
    _, _, groups, _, ev, truth = _truth(root)
    stack, fam, D = ev.stack, ev.family, truth.shape[0]
    ca, cm = groups.singles[0]
    pool = stack.tensors[stack.slots[ca]].weight

    def loss(gains: list[tuple[torch.Tensor, torch.Tensor]]) -> float:
        h = ev.X
        for p in range(D):
            params = dict(stack.at(truth[p].tolist()))
            params[stack.slots[ca]], params[stack.slots[cm]] = SlotParams(gains[p][0]), SlotParams(gains[p][1])
            h = fam.layer(params, h)
        return float(ev.loss(h))

    print("| position | attention norm: rank of the true gain | MLP norm |\n|---|---|---|")
    for p in positions:
        used = set(truth[:p, ca].tolist()) | set(truth[:p, cm].tolist())
        left = [g for g in range(pool.shape[0]) if g not in used]
        mean = pool[left].mean(0)
        prefix = [(pool[truth[q, ca]], pool[truth[q, cm]]) for q in range(p)]
        ranks = []
        for c in (ca, cm):
            losses = [
                loss(
                    prefix
                    + [(pool[g], mean) if c == ca else (pool[truth[p, ca]], pool[g])]
                    + [(mean, mean)] * (D - p - 1)
                )
                for g in left
            ]
            ranks.append(sum(x < losses[left.index(int(truth[p, c]))] for x in losses))
        print(f"| {p} | {ranks[0]} of {len(left)} | {ranks[1]} of {len(left)} |")


def saturation(root: Path, tries: int = 5) -> None:
    """Print the exact loss of disturbed true arrangements (median of ``tries`` draws where random).

    Parameters
    ----------
    root
        A generated puzzle with its ``answer.json``.
    tries
        Draws per random disturbance.
    """
    _, _, groups, _, ev, truth = _truth(root)
    D, cols, rng = truth.shape[0], groups.singles[0], np.random.default_rng(0)

    def loss(x: torch.Tensor) -> float:
        return float(ev.run(x[None])[0])

    def swaps(n: int) -> torch.Tensor:
        x = truth.clone()
        for p in rng.choice(D - 1, n, replace=False):
            c = cols[rng.integers(len(cols))]
            x[[p, p + 1], c] = x[[p + 1, p], c]
        return x

    def keep(layers: list[int]) -> torch.Tensor:
        x, free = truth.clone(), [p for p in range(D) if p not in layers]
        for c in cols:
            x[free, c] = truth[torch.as_tensor(rng.permutation(free)), c]
        return x

    print(f"| gains of the true arrangement ({D} layers) | exact loss |\n|---|---|")
    print(f"| all in place | {loss(truth):.2g} |")
    for n in (n for n in (1, 2, 5, 10) if n < D):  # distinct neighbour pairs
        print(f"| {n} random neighbours exchanged | {np.median([loss(swaps(n)) for _ in range(tries)]):.3g} |")
    for a, b in ((0, D // 3), (D // 3, 2 * D // 3), (2 * D // 3, D)):
        for c in cols:
            x = truth.clone()
            x[a:b, c] = truth[a:b, c].flip(0)
            print(f"| column {ev.stack.slots[c]}: positions {a}-{b - 1} reversed | {loss(x):.3g} |")
    for layers in ([], [0, D - 1], list(range(D // 2)), list(range(D // 2, D))):
        label = f"layers {layers[0]}-{layers[-1]}" if len(layers) > 2 else str(layers or "none")
        print(
            f"| all shuffled within their kind but {label} | {np.median([loss(keep(layers)) for _ in range(tries)]):.3g} |"
        )


def links(root: Path) -> None:
    """Print, per gain kind and per piece it is compared with, the mean correlation of true pairs
    and of the rest, and the median rank of the true layer among all (0: first).

    Parameters
    ----------
    root
        A generated puzzle with its ``answer.json``.
    """
    puzzle, answer = load_puzzle(root), load_answer(root / "answer.json")
    slots = puzzle.layout.block_slots
    blocks = answer.assembly(puzzle.layout).blocks
    weight = {p.index: p.weight.double() for p in puzzle.pieces}
    spec = {s.name: s for s in puzzle.family.slots}

    def profile(slot: str) -> np.ndarray:
        w = [weight[b[slots.index(slot)]] for b in blocks]
        if w[0].ndim == 1:
            v = torch.stack(w).abs()
        else:  # a read piece's column norms, a write piece's row norms (over the residual dimensions)
            v = torch.stack([x.pow(2).sum(0 if spec[slot].role == "read" else 1) for x in w]).sqrt()
        v = v.clamp_min(1e-12).log().numpy()
        v = v - v.mean(0)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    gains = [s for s in slots if weight[blocks[0][slots.index(s)]].ndim == 1]
    print("| gain | compared with | true layer | other layers | median rank of the true layer |\n|---|---|---|---|---|")
    for g in gains:
        i = slots.index(g)
        j = next((k for k, s in enumerate(slots[i + 1 :], i + 1) if s in gains), len(slots))
        for other in slots[i + 1 : j]:
            m = profile(g) @ profile(other).T
            D = len(m)
            rank = np.median([(m[:, q] > m[q, q]).sum() for q in range(D)])
            off = m[~np.eye(D, dtype=bool)].mean()
            print(f"| {g} | {other} | {np.diag(m).mean():+.2f} | {off:+.2f} | {rank:.1f} of {D} |")


def softassign(
    root: Path,
    base: str,
    steps: int,
    lr: float,
    rows: int = 2,
    tokens: int = 8,
    batch: int | None = None,
    init: str = "zero",
    sharpness: float = 1.0,
    then_search: float = 0.0,
) -> None:
    """Print, every 25 steps, the softassign fit's relaxed loss and its rounded placement.

    Parameters
    ----------
    root
        A generated puzzle with its ``answer.json``.
    base
        ``truth``: the components at their true places; ``start``: as the solver's start puts them.
    steps
        Adam steps; ``tau`` falls geometrically from 1 to 0.02 over them.
    lr
        Adam's step size on the logits.
    rows, tokens
        The fit's sequences and tokens (the search's by default).
    batch
        Where given, each step fits a fresh draw of ``batch`` of the ``rows`` sequences (a
        stochastic fit over more data at the cost of ``batch``).
    init
        ``zero``: logits 0 (every gain equally likely everywhere); ``links``: ``sharpness`` times
        the weights' links of the solver's stage (:func:`~solvers.transformer.softassign.link_scores`).
    sharpness
        The links' weight in the first logits.
    then_search
        Where positive, the solver's search runs this many seconds from the best rounding (on the
        solver's own rows) and its end is printed.
    """
    from scipy.optimize import linear_sum_assignment

    from solvers.transformer.relink import relaxed_output
    from solvers.transformer.softassign import link_scores, sinkhorn

    _, _, groups, options, ev, truth = _truth(root, rows, tokens)
    D, cols, t0 = truth.shape[0], groups.singles[0], time.time()
    if base in ("truth", "start"):
        arr = best_start(ev, options)[0] if base == "start" else truth.clone()
    else:  # the truth with exchanges of components
        arr = truth.clone()
        for ex in base.split("+"):
            _exchange(arr, groups, ev.stack.slots, ex)
    n = len(cols) * D
    right = torch.cat([truth[:, c] for c in cols])
    first = sharpness * link_scores(ev, arr, groups) if init == "links" else torch.zeros(n, n)
    logits = first.to(ev.X.dtype).requires_grad_(True)
    best = (float("inf"), arr)
    opt, draw = torch.optim.Adam([logits], lr=lr), np.random.default_rng(0)
    print("| step | tau | relaxed loss | gains in place (rounded) | exact loss (rounded) |\n|---|---|---|---|---|")
    with torch.enable_grad():
        for step in range(steps):
            tau = 0.02 ** (step / max(1, steps - 1))
            p = sinkhorn(logits / tau)
            free = [p[i * D : (i + 1) * D] - 1.0 / n for i in range(len(cols))]
            fit = ev
            if batch is not None:
                pick = torch.as_tensor(draw.choice(ev.n_rows, batch, replace=False))
                fit = ev.with_rows(ev.X[pick], ev.target[pick])
            loss = (relaxed_output(fit, arr, groups, [], free) - fit.target).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step % 25 == 0 or step == steps - 1:
                _, perm = linear_sum_assignment(p.detach().numpy(), maximize=True)
                x = arr.clone()
                for i, c in enumerate(cols):
                    x[:, c] = torch.as_tensor(perm[i * D : (i + 1) * D])
                placed = int((torch.as_tensor(perm) == right).sum())
                exact = float(ev.run(x[None])[0])
                best = min(best, (exact, x), key=lambda b: b[0])
                print(
                    f"| {step} | {tau:.3g} | {float(loss.detach()):.3g} | {placed} of {n} | {exact:.3g} |  <!-- {time.time() - t0:.0f} s -->"
                )
    if then_search > 0:
        solver = TransformerSolver()
        _, _, _, sev, floor = solver.prepare(load_puzzle(root))
        end, loss, log = solver.search.run(
            sev, best[1], groups, floor, sev.clock() + then_search, np.random.default_rng(0)
        )
        print(f"search from the best rounding ({best[0]:.3g}): loss {loss:.3g} after {log.stop}; moves {log.moves}")
        _placed(sev, groups, truth, end)
        print(f"  gains in place: {int((end[:, list(cols)] == truth[:, list(cols)]).sum())} of {n}")


def marginal(root: Path, iterations: int, exchanges: list[str], rows: int = 2) -> None:
    """Print the gains-marginalised loss (and its rounding's exact loss) of the true components,
    the start's, and each exchange in ``exchanges``.

    Parameters
    ----------
    root
        A generated puzzle with its ``answer.json``.
    iterations
        L-BFGS steps of each fit, from the uniform mixture.
    exchanges
        ``KIND:P:Q`` (``KIND`` a slot of the kind, e.g. ``o``, ``k`` or ``down``): that kind's
        components at positions ``P`` and ``Q`` exchanged.
    rows
        The fits' sequences (of 8 tokens).
    """
    from solvers.transformer.relink import relaxed_linking

    _, _, groups, options, ev, truth = _truth(root, rows)
    start = best_start(ev, options)[0]
    cases = {"true": truth.clone(), "the solver's start": start}
    for spec in exchanges:
        a = truth.clone()
        _exchange(a, groups, ev.stack.slots, spec)
        slot, p, q = spec.split(":")
        cases[f"true, {slot} of {p} and {q} exchanged"] = a
    print("| components | gains-marginalised loss | its rounding's exact loss |\n|---|---|---|")
    for name, a in cases.items():
        if name != "the solver's start":  # the start's own gains; else the start's gains around these components
            a[:, list(groups.singles[0])] = start[:, list(groups.singles[0])]
        new, loss = relaxed_linking(ev, a, groups, iterations, kinds=False)
        print(f"| {name} | {loss:.3g} | {float(ev.run(new[None])[0]):.3g} |")


def split(root: Path, iterations: int) -> None:
    """Print the gains' mixture fit of the true components with each norm slot's candidates the
    whole pool, its true kind's gains, or its column's gains in the start; and, for the last, the
    excluded gains with the most negative price (the loss's slope toward mixing them in).

    Parameters
    ----------
    root
        A generated puzzle with its ``answer.json``.
    iterations
        L-BFGS steps of each fit, from the uniform mixture over each slot's candidates.
    """
    from solvers.transformer.relink import mixed_gains_forward, round_gains

    torch.set_num_threads(1)
    _, _, groups, options, ev, truth = _truth(root)
    start = best_start(ev, options)[0]
    cols = groups.singles[0]
    D, G = truth.shape[0], ev.stack.tensors[ev.stack.slots[cols[0]]].weight.shape[0]
    arr = start.clone()
    comps = [c for k in groups.kinds for c in k]
    arr[:, comps] = truth[:, comps]
    where = {int(truth[p, c]): f"{ev.stack.slots[c]} of layer {p}" for p in range(D) for c in cols}

    def loss_of(w: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        mix = list(w.masked_fill(~allowed, 0.0) - 1.0 / G)
        return (ev.output(mixed_gains_forward(ev, arr, groups, mix)) - ev.target).pow(2).mean()

    def fit(allowed: torch.Tensor) -> tuple[torch.Tensor, float]:
        w = (allowed / allowed.sum(-1, keepdim=True)).to(ev.X.dtype).expand(-1, D, -1).clone().requires_grad_(True)
        opt = torch.optim.LBFGS([w], lr=1, max_iter=iterations, history_size=20, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            opt.zero_grad()
            loss = loss_of(w, allowed)
            loss.backward()
            return loss

        with torch.enable_grad():
            opt.step(closure)
        with torch.no_grad():
            return w.detach().masked_fill(~allowed, 0.0), float(loss_of(w.detach(), allowed))

    def of(src: torch.Tensor) -> torch.Tensor:
        return torch.stack([torch.zeros(G, dtype=torch.bool).index_fill(0, src[:, c], True) for c in cols])[:, None]

    true_split, start_split = of(truth), of(start)
    splits = {
        "the whole pool": torch.ones(len(cols), 1, G, dtype=torch.bool),
        "the true split": true_split,
        "the start's split": start_split,
    }
    wrong = int((~true_split & start_split).sum())
    print(f"the start's split puts {wrong} of {G} gains in the other kind's column")
    print("| each norm slot mixes | fit loss | gains placed by its rounding |\n|---|---|---|")
    fits = {}
    for name, allowed in splits.items():
        fits[name], loss = fit(allowed)
        placed = round_gains(arr, groups, list(fits[name].masked_fill(~allowed, -1e9)))
        right = sum(int((placed[:, c] == truth[:, c]).sum()) for c in cols)
        print(f"| {name} | {loss:.3g} | {right} of {G} |")
    # the prices at the start split's fit: the slope toward mixing in each gain it excludes
    w, allowed = fits["the start's split"].requires_grad_(True), start_split
    with torch.enable_grad():
        loss_of(w, torch.ones_like(allowed)).backward()
    for i, c in enumerate(cols):
        price = w.grad[i].min(0).values.masked_fill(allowed[i, 0], float("inf"))
        best = price.argsort()[:3].tolist()
        print(
            f"{ev.stack.slots[c]} slots would mix in first:",
            ", ".join(f"{where[j]} ({float(price[j]):.3g})" for j in best),
        )


def plateau(
    root: Path,
    components: list[str],
    steps: int,
    chunk: int,
    init: str = "uniform",
    rows: int = 2,
    seed: int = 0,
    tokens: int = 8,
) -> None:
    """Print the whole-pool gains fit, run on in chunks, for each set of components.

    Parameters
    ----------
    root
        A generated puzzle with its ``answer.json``.
    components
        ``true``, ``start``, or exchanges of the true components joined by ``+``, each
        ``KIND:P:Q`` (``KIND`` a slot of the kind: its components at ``P`` and ``Q`` exchanged).
    steps
        L-BFGS steps in all.
    chunk
        L-BFGS steps between two reports.
    init
        ``uniform`` over the pool, or ``column``: uniform over the gains each slot's column holds
        in the solver's start (as :class:`~solvers.transformer.marginal.MarginalSweeps` ``init``).
    rows, seed
        The fits' sequences and the seed that draws them (the solver's ``random_state``); the start
        is the solver's (2 sequences, seed 0) either way.
    tokens
        The first tokens of each sequence the fit sees.
    """
    from solvers.transformer.marginal import _fit, first_weights
    from solvers.transformer.relink import round_gains

    torch.set_num_threads(1)
    _, _, groups, options, ev, truth = _truth(root, rows, tokens, seed)
    start = best_start(_truth(root)[4], options)[0]
    cols = groups.singles[0]
    G = ev.stack.tensors[ev.stack.slots[cols[0]]].weight.shape[0]
    comps = [c for k in groups.kinds for c in k]
    print("| components | L-BFGS steps | fit loss | its rounding's exact loss | gains placed | seconds |")
    print("|---|---|---|---|---|---|")
    for spec in components:
        arr = start.clone()
        if spec != "start":
            arr[:, comps] = truth[:, comps]
        for ex in spec.split("+") if spec not in ("true", "start") else ():
            _exchange(arr, groups, ev.stack.slots, ex)
        w, t0 = first_weights(start, groups, G, init, ev.X.dtype)[0], time.perf_counter()
        for done in range(chunk, steps + 1, chunk):
            w, loss = _fit(ev, arr, groups, w, 0, ev.X, chunk)
            placed = round_gains(arr, groups, list(w))
            right = sum(int((placed[:, c] == truth[:, c]).sum()) for c in cols)
            exact = float(ev.run(placed[None])[0])
            print(
                f"| {spec}, {init}, {rows} rows × {tokens} tokens (seed {seed}) | {done} | {loss:.3g} | {exact:.3g} | {right} of {G} | "
                f"{time.perf_counter() - t0:.0f} |",
                flush=True,
            )


def kinds(roots: list[Path]) -> None:
    """Print, per puzzle, the gains the start's split puts in the other kind's column.

    Parameters
    ----------
    roots
        Generated puzzles with their ``answer.json``.
    """
    print("| puzzle | layers | gains in the other kind's column |\n|---|---|---|")
    for root in roots:
        _, _, groups, options, ev, truth = _truth(root)
        start, col = best_start(ev, options)[0], groups.singles[0][0]
        wrong = len(set(start[:, col].tolist()) - set(truth[:, col].tolist()))
        print(f"| {root.name} | {truth.shape[0]} | {2 * wrong} of {2 * truth.shape[0]} |")


def chains(roots: list[Path]) -> None:
    """Print, per puzzle, whether the gains form two chains by their raw values: how often a gain's
    nearest neighbour (correlation of raw values) is of its own kind, how well a spectral split
    of the 2-nearest-neighbour graph into halves splits the kinds, and each half's seriation path
    as true layers; then, with the true components, every reading of the two paths (which half is
    attention, each direction) with its exact loss and gains in place.

    Parameters
    ----------
    roots
        Generated puzzles with their ``answer.json``.
    """
    from scipy.sparse.csgraph import laplacian

    for root in roots:
        _, _, _, _, ev, truth = _truth(root, rows=4)
        D, cols = truth.shape[0], [0, 5]
        ids = truth[:, cols].T.flatten()  # attention's gains, then the MLP's, by layer
        g = ev.stack.tensors["attn_norm"].weight.double()[ids]
        g = torch.nn.functional.normalize(g - g.mean(1, keepdim=True), dim=1)
        sim = (g @ g.T).numpy()
        np.fill_diagonal(sim, -np.inf)
        kind = np.repeat([0, 1], D)
        own = np.mean(kind[sim.argmax(1)] == kind)
        graph = np.zeros_like(sim)
        for i, row in enumerate(np.argsort(-sim, axis=1)[:, :2]):
            graph[i, row] = graph[row, i] = 1
        fiedler = np.linalg.eigh(laplacian(graph, normed=True))[1][:, 1]
        halves = np.argsort(fiedler, kind="stable")[:D], np.argsort(fiedler, kind="stable")[D:]
        purity = max(np.mean(kind[halves[0]] == 0), np.mean(kind[halves[0]] == 1))
        np.fill_diagonal(sim, 1.0)
        paths = [h[shortest_path(sim[np.ix_(h, h)])] for h in halves]
        print(
            f"{root.name}: nearest gain of its own kind {own:.2f}; halves by kind {purity:.2f}; paths as (kind, layer):"
        )
        for p in paths:
            print("  ", " ".join(f"{'am'[kind[i]]}{i % D}" for i in p))
        trials = []
        for a, b in ((paths[0], paths[1]), (paths[1], paths[0])):
            for a2 in (a, a[::-1]):
                for b2 in (b, b[::-1]):
                    t = truth.clone()
                    t[:, cols[0]], t[:, cols[1]] = ids[a2.copy()], ids[b2.copy()]
                    trials.append(t)
        for t, loss in zip(trials, ev.run(torch.stack(trials))):
            print(
                f"   reading: exact loss {float(loss):.3g}, gains in place {int((t[:, cols] == truth[:, cols]).sum())} of {2 * D}"
            )


def components(roots: list[Path]) -> None:
    """Print, per puzzle and component kind, where the start puts each kind's components.

    Parameters
    ----------
    roots
        Generated puzzles with their ``answer.json``.
    """
    for root in roots:
        _, _, groups, options, ev, truth = _truth(root)
        start = best_start(ev, options)[0]
        print(f"{root.name} ({truth.shape[0]} layers)")
        _placed(ev, groups, truth, start)


def raced(roots: list[Path]) -> None:
    """Print, per puzzle, what the solver's ``units`` stage ends with (its race, on the solver's
    rows and time share): where each kind's components are, and how many gains are in place.

    Parameters
    ----------
    roots
        Generated puzzles with their ``answer.json``.
    """
    for root in roots:
        _raced(root)


def _race(root: Path):
    """The solver's ``units`` race on its rows (4 sequences of 8 tokens) and time share: the
    evaluator, column groups and true arrangement (as :func:`_truth`), the race's arrangement and
    what the race did."""
    puzzle, _, groups, options, ev, truth = _truth(root, rows=4)
    solver = TransformerSolver()
    floor = solver.floor * float(ev.target.pow(2).mean())

    def searched(a: torch.Tensor, until: float) -> tuple[torch.Tensor, float]:
        end, loss, _ = solver.search.run(ev, a, groups, floor, until, np.random.default_rng(solver.random_state))
        return end, loss

    start = best_start(ev, options)[0]
    end, details = solver.units.run(puzzle, ev, start, groups, searched, ev.clock() + solver.time_limit, floor)
    return ev, groups, truth, end, details


def _raced(root: Path) -> None:
    ev, groups, truth, end, details = _race(root)
    gains = [c for pool in groups.singles for c in pool]
    print(
        f"{root.name} ({truth.shape[0]} layers): loss {details['losses'][details['chosen']]:.3g}, "
        f"gains in place {int((end[:, gains] == truth[:, gains]).sum())} of {len(gains) * truth.shape[0]}"
    )
    _placed(ev, groups, truth, end)


def _placed(ev, groups, truth: torch.Tensor, arr: torch.Tensor) -> None:
    """Print, per component kind, the true position of the component ``arr`` puts at each position."""
    for kind in groups.kinds:
        c = kind[0]
        where = {int(truth[p, c]): p for p in range(truth.shape[0])}
        placed = [where[int(arr[p, c])] for p in range(truth.shape[0])]
        wrong = sum(q != p for p, q in enumerate(placed))
        marks = " ".join("." if q == p else str(q) for p, q in enumerate(placed))
        print(f"  {'/'.join(ev.stack.slots[i] for i in kind)}: {marks}  ({wrong} misplaced)")


def _exchange_lengthens(dist: np.ndarray, p: int) -> float:
    """How much longer the path ``0, 1, ..., n - 1`` under ``dist`` gets with ``p`` and ``p + 1``
    exchanged."""
    n = len(dist)

    def edge(a: int, b: int) -> float:
        return float(dist[a, b]) if a >= 0 and b < n else 0.0

    return edge(p - 1, p + 1) + edge(p + 1, p) + edge(p, p + 2) - edge(p - 1, p) - edge(p, p + 1) - edge(p + 1, p + 2)


def attention(roots: list[Path], weights: list[float]) -> None:
    """Print, per puzzle, how many Q/K the weights place given the V/O places (see the module
    docstring), for each weight of the path term.

    Parameters
    ----------
    roots
        Generated puzzles with their ``answer.json``.
    weights
        Weights of the path term (0: the K-V read link alone).
    """
    from solvers.transformer.linking import gram_features
    from solvers.transformer.seriation import circuit_similarity
    from solvers.transformer.units import place_along, zscored

    for root in roots:
        puzzle, answer, groups, options, ev, truth = _truth(root)
        blocks, names = answer.assembly(puzzle.layout).blocks, [s.name for s in puzzle.family.slots]
        D, slots = len(blocks), ev.stack.slots
        qk = [{n: b[names.index(n)] for n in ("q", "k")} for b in blocks]  # in the true layer order
        k_feat = gram_features(puzzle, [{"k": m["k"]} for m in qk], "read")
        v_feat = gram_features(puzzle, [{"v": b[names.index("v")]} for b in blocks], "read")
        reads, path = zscored((k_feat @ v_feat.T).double().numpy()), zscored(circuit_similarity(puzzle, qk))
        start = best_start(ev, options)[0]
        layer_of = {c: {int(truth[p, c]): p for p in range(D)} for c in (slots.index("k"), slots.index("v"))}
        qk_start = [layer_of[slots.index("k")][int(start[p, slots.index("k")])] for p in range(D)]
        vo_start = [layer_of[slots.index("v")][int(start[p, slots.index("v")])] for p in range(D)]
        for vo_name, vo_at in (("true", list(range(D))), ("the start's", vo_start)):
            for w in weights:
                # place_along starts from the identity: its items are the start's Q/K, in the start's order
                fit, chain = reads[qk_start][:, vo_at], w * path[qk_start][:, qk_start]
                at = [qk_start[i] for i in place_along(fit, chain)]
                wrong = " ".join(f"{p}:{at[p]}" for p in range(D) if at[p] != p) or "none"
                print(
                    f"| {root.name} | {vo_name} | {w:g} | {sum(a == p for p, a in enumerate(at))} of {D} "
                    f"(start {sum(a == p for p, a in enumerate(qk_start))}) | {wrong} |",
                    flush=True,
                )


def margins(roots: list[Path]) -> None:
    """Print, per puzzle, the V/O link's, the Q/K path's and a K-V read link's margins for the truth.

    Parameters
    ----------
    roots
        Generated puzzles with their ``answer.json``.
    """
    from scipy.optimize import linear_sum_assignment

    from solvers.transformer.linking import gram_features
    from solvers.transformer.seriation import circuit_similarity
    from solvers.transformer.units import UnitHypotheses

    for root in roots:
        puzzle, answer, groups, _, ev, truth = _truth(root)
        blocks, names = answer.assembly(puzzle.layout).blocks, [s.name for s in puzzle.family.slots]
        gap = UnitHypotheses().margins(puzzle, ev, truth, groups)
        print(f"{root.name} V/O-MLP link: " + " ".join(f"{p}/{p + 1} {m:+.3f}" for p, m in enumerate(gap)))
        dist = 1.0 - circuit_similarity(puzzle, [{n: b[names.index(n)] for n in ("q", "k")} for b in blocks])
        path = [_exchange_lengthens(dist, p) for p in range(len(blocks) - 1)]
        print(f"{root.name} Q/K path: " + " ".join(f"{p}/{p + 1} {m:+.3f}" for p, m in enumerate(path)))
        k, v = ([{n: b[names.index(n)]} for b in blocks] for n in ("k", "v"))
        sim = (gram_features(puzzle, k, "read") @ gram_features(puzzle, v, "read").T).double()
        _, partner = linear_sum_assignment(sim.numpy(), maximize=True)
        gap = [float(sim[p, p] + sim[p + 1, p + 1] - sim[p, p + 1] - sim[p + 1, p]) for p in range(len(blocks) - 1)]
        wrong = ", ".join(f"K {i} with V {j}" for i, j in enumerate(partner) if i != j) or "none"
        print(
            f"{root.name} K-V read link: wrong {wrong}; " + " ".join(f"{p}/{p + 1} {m:+.3f}" for p, m in enumerate(gap))
        )


def pooled(root: Path, seconds: float, rounds: int) -> None:
    """Print, after each round of ``seconds`` of search from every arrangement of the ``units``
    stage (all of them going on each round), the loss of each arrangement's components with each
    arrangement's gains: rows the components, columns the gains.

    Parameters
    ----------
    root
        A generated puzzle with its ``answer.json``.
    seconds
        Seconds of search each arrangement has per round.
    rounds
        How many rounds.
    """
    puzzle, answer, groups, options, ev, truth = _truth(root, rows=4)
    solver = TransformerSolver()
    floor = solver.floor * float(ev.target.pow(2).mean())
    pairs, _, tries = solver.units.arrangements(puzzle, ev, best_start(ev, options)[0], groups)
    names = [
        "".join("x" if (i >> (len(pairs) - 1 - j)) & 1 else "." for j in range(len(pairs))) for i in range(len(tries))
    ]
    comps = [c for c in range(truth.shape[1]) if not any(c in pool for pool in groups.singles)]
    print(
        f"{root.name}: links {', '.join(f'{p}/{p + 1}' for p in pairs)}; the truth: "
        f"{[n for n, t in zip(names, tries) if torch.equal(t[:, comps], truth[:, comps])] or 'none of them'}"
    )
    gains = [c for pool in groups.singles for c in pool]
    for r in range(rounds):
        for i, t in enumerate(tries):
            tries[i], _, _ = solver.search.run(ev, t, groups, floor, ev.clock() + seconds, np.random.default_rng(r))
        print(f"after {seconds * (r + 1):.0f} s each (rows: components of; columns: gains of) {' '.join(names)}")
        for name, t in zip(names, tries):
            trials = torch.stack([t] * len(tries))
            trials[:, :, gains] = torch.stack(tries)[:, :, gains]
            print(name, " ".join(f"{float(x):8.3g}" for x in ev.run(trials)), flush=True)


def gainsplit(roots: list[Path]) -> None:
    """The ``chains`` stage's split of the gain pool into kinds (spectral bisection of each gain's
    ``k`` nearest by centred raw values), for k = 1 to 4: gains on the right side."""
    from solvers.transformer.chains import gain_similarity, split_kinds

    for root in roots:
        _, _, groups, _, ev, truth = _truth(root)
        cols = list(groups.singles[0])
        pool = ev.stack.tensors[ev.stack.slots[cols[0]]].weight
        kind = np.zeros(pool.shape[0], dtype=int)
        kind[truth[:, cols[1]].numpy()] = 1
        row = []
        for k in (1, 2, 3, 4):
            a, b = split_kinds(gain_similarity(pool), k)
            right = max((kind[a] == 0).sum() + (kind[b] == 1).sum(), (kind[a] == 1).sum() + (kind[b] == 0).sum())
            row.append(f"k={k}: {right}/{len(kind)}")
        print(root.name, " | ".join(row))


class _GainsInPlace:
    """How many of an arrangement's gains sit where ``truth`` has them."""

    def __init__(self, truth: torch.Tensor, cols: list[int]) -> None:
        self.truth, self.cols = truth, cols

    def __call__(self, arr: torch.Tensor) -> int:
        return int((arr[:, self.cols] == self.truth[:, self.cols]).sum())


def gainchains(roots: list[Path], seconds: float, components: Path | None = None) -> None:
    """The ``chains`` stage (``GainChains``) from the true components (or a saved arrangement's,
    ``components``) with every gain of the pool shuffled: the weights' placement (for several
    ``chain`` weights), then the stage's exact search for ``seconds`` (one thread)."""
    from solvers.transformer.chains import GainChains

    torch.set_num_threads(1)
    for root in roots:
        _, _, groups, _, ev, truth = _truth(root)
        cols = list(groups.singles[0])
        arr = truth.clone() if components is None else torch.load(components, weights_only=True)
        flat = torch.cat([truth[:, c] for c in cols])
        flat = flat[torch.as_tensor(np.random.default_rng(0).permutation(len(flat)))]
        arr[:, cols[0]], arr[:, cols[1]] = flat[: len(truth)], flat[len(truth) :]
        placed = _GainsInPlace(truth, cols)
        for chain in (0.0, 0.5, 1.0, 2.0):
            a = GainChains(chain=chain).placement(ev, arr, groups)
            print(
                f"{root.name} placement, chain {chain}: {placed(a)} of {len(flat)} in place, loss {float(ev.run(a[None])[0]):.3g}"
            )
        t0 = time.monotonic()
        new, details = GainChains(steps=100_000, share=1.0, rate=1.0).run(ev, arr, groups, t0 + seconds, 1e-9)
        print(
            f"{root.name} stage: loss {details['losses'][0]:.3g} -> {details['losses'][-1]:.3g}, {placed(new)} of "
            f"{len(flat)} in place, {details['moves']} moves, {time.monotonic() - t0:.0f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    s = sub.add_parser("search", help="the search from the true components")
    s.add_argument("puzzle", type=Path)
    s.add_argument("--gains", choices=("start", "seriated", "random"), default="start")
    s.add_argument("--time-limit", type=float, default=300.0)
    s.add_argument("--rows", type=int, default=2)
    s.add_argument("--tokens", type=int, default=8)
    s.add_argument("--exchanges", default=None)
    k = sub.add_parser("sink", help="the first token: Q/K-free, and what it shows")
    k.add_argument("puzzle", type=Path)
    n = sub.add_parser("lens", help="each position judged by its state put through the head")
    n.add_argument("puzzle", type=Path)
    n.add_argument("--rows", type=int, default=4)
    f = sub.add_parser("meanfield", help="each gain judged with every later gain the mean of those left")
    f.add_argument("puzzle", type=Path)
    f.add_argument("--positions", type=int, nargs="+", default=[0, 1, 2, 5, 10, 15, 20, 25, 29])
    for name, what in (
        ("saturation", "the exact loss with the true gains disturbed"),
        ("links", "gain to own-layer weight links"),
    ):
        sub.add_parser(name, help=what).add_argument("puzzle", type=Path)
    m = sub.add_parser("marginal", help="the gains-marginalised loss of right and exchanged components")
    m.add_argument("puzzle", type=Path)
    m.add_argument("--iterations", type=int, default=150)
    m.add_argument("--rows", type=int, default=2)
    m.add_argument("--exchanges", nargs="+", default=["o:4:5", "o:10:11", "k:12:13", "k:2:3", "down:7:8"])
    t = sub.add_parser("split", help="the gains' fit with each slot mixing the pool, its true kind or its start column")
    t.add_argument("puzzle", type=Path)
    t.add_argument("--iterations", type=int, default=150)
    q = sub.add_parser("plateau", help="the whole-pool gains fit run on in chunks, for given components")
    q.add_argument("puzzle", type=Path)
    q.add_argument("--components", nargs="+", default=["true", "start"])
    q.add_argument("--steps", type=int, default=500)
    q.add_argument("--chunk", type=int, default=50)
    q.add_argument("--init", choices=("uniform", "column"), default="uniform")
    q.add_argument("--rows", type=int, default=2)
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--tokens", type=int, default=8)
    sub.add_parser("kinds", help="the start's split of the gains by kind, how wrong").add_argument(
        "puzzles", type=Path, nargs="+"
    )
    sub.add_parser("chains", help="the gains as two chains by raw values: split, paths, readings").add_argument(
        "puzzles", type=Path, nargs="+"
    )
    sub.add_parser("raced", help="where the units stage's race leaves each kind's components").add_argument(
        "puzzles", type=Path, nargs="+"
    )
    sub.add_parser("components", help="where the start puts each kind's components").add_argument(
        "puzzles", type=Path, nargs="+"
    )
    sub.add_parser(
        "margins", help="the weights' margins (V/O link, Q/K path, K-V reads) for each neighbour pair"
    ).add_argument("puzzles", type=Path, nargs="+")
    t2 = sub.add_parser("attention", help="Q/K placed by K-V reads and its path, given the V/O places")
    t2.add_argument("puzzles", type=Path, nargs="+")
    t2.add_argument("--path", type=float, nargs="+", default=[0.0, 0.5, 1.0, 2.0])
    a = sub.add_parser("softassign", help="gains by a Sinkhorn-annealed relaxed fit")
    a.add_argument("puzzle", type=Path)
    a.add_argument(
        "--base", default="truth", help="truth, start, or exchanges of the truth's components (KIND:P:Q+...)"
    )
    a.add_argument("--steps", type=int, default=200)
    a.add_argument("--lr", type=float, default=0.1)
    a.add_argument("--rows", type=int, default=2)
    a.add_argument("--tokens", type=int, default=8)
    a.add_argument("--batch", type=int, default=None)
    a.add_argument("--init", choices=("zero", "links"), default="zero")
    a.add_argument("--sharpness", type=float, default=1.0)
    a.add_argument("--then-search", type=float, default=0.0)
    sub.add_parser("gainsplit", help="the chains stage's split of the gains into kinds").add_argument(
        "puzzles", type=Path, nargs="+"
    )
    g = sub.add_parser("gainchains", help="the chains stage from the true components, every gain shuffled")
    g.add_argument("puzzles", type=Path, nargs="+")
    g.add_argument("--seconds", type=float, default=400.0)
    g.add_argument("--components", type=Path, default=None, help="a saved (D, S) arrangement whose components to hold")
    o = sub.add_parser("pooled", help="the units race's arrangements, each judged with every one's gains")
    o.add_argument("puzzle", type=Path)
    o.add_argument("--seconds", type=float, default=15.0)
    o.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    if args.what == "pooled":
        pooled(args.puzzle, args.seconds, args.rounds)
    elif args.what == "saturation":
        saturation(args.puzzle)
    elif args.what == "links":
        links(args.puzzle)
    elif args.what == "softassign":
        softassign(
            args.puzzle,
            args.base,
            args.steps,
            args.lr,
            args.rows,
            args.tokens,
            args.batch,
            args.init,
            args.sharpness,
            args.then_search,
        )
    elif args.what == "marginal":
        marginal(args.puzzle, args.iterations, args.exchanges, args.rows)
    elif args.what == "split":
        split(args.puzzle, args.iterations)
    elif args.what == "kinds":
        kinds(args.puzzles)
    elif args.what == "chains":
        chains(args.puzzles)
    elif args.what == "raced":
        raced(args.puzzles)
    elif args.what == "components":
        components(args.puzzles)
    elif args.what == "margins":
        margins(args.puzzles)
    elif args.what == "attention":
        attention(args.puzzles, args.path)
    elif args.what == "plateau":
        plateau(args.puzzle, args.components, args.steps, args.chunk, args.init, args.rows, args.seed, args.tokens)
    elif args.what == "meanfield":
        meanfield(args.puzzle, args.positions)
    elif args.what == "search":
        search(args.puzzle, args.gains, args.time_limit, args.rows, args.tokens, args.exchanges)
    elif args.what == "gainsplit":
        gainsplit(args.puzzles)
    elif args.what == "gainchains":
        gainchains(args.puzzles, args.seconds, args.components)
    elif args.what == "sink":
        sink(args.puzzle)
    else:
        lens(args.puzzle, args.rows)


if __name__ == "__main__":
    main()
