"""Pairing: score every (input projection, output projection) pair, then assign (Hungarian).

Both scores are invariant to a function-preserving reparametrisation of a block's hidden
units (permuting them and rescaling each by a positive factor).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from reassembly.puzzle import Puzzle


def ddr_scores(w_in: torch.Tensor, w_out: torch.Tensor) -> torch.Tensor:
    """Diagonal dominance ratio ``|tr(W_out_b W_in_a)| / ||W_out_b W_in_a||_F`` for all ``(a, b)``.

    ``w_in`` is ``(A, h, d)`` and ``w_out`` ``(B, d, h)``; the result is ``(A, B)``. The Frobenius
    norms come from Gram matrices, ``||W_out W_in||_F^2 = <W_out^T W_out, W_in W_in^T>``, so the
    whole matrix costs three matrix products.
    """
    w_in, w_out = w_in.double(), w_out.double()
    trace = w_in.transpose(1, 2).flatten(1) @ w_out.flatten(1).T  # sum_ij W_in[a][j,i] W_out[b][i,j]
    gram_in = (w_in @ w_in.transpose(1, 2)).flatten(1)  # (A, h*h)
    gram_out = (w_out.transpose(1, 2) @ w_out).flatten(1)  # (B, h*h)
    frob = (gram_in @ gram_out.T).clamp_min(0).sqrt()
    return trace.abs() / frob.clamp_min(torch.finfo(frob.dtype).tiny)


def cosine_scores(w_in: torch.Tensor, w_out: torch.Tensor) -> torch.Tensor:
    """``|mean_k cos(W_in_a[k, :], W_out_b[:, k])|``: per-hidden-unit alignment of read and write vectors."""
    rows = torch.nn.functional.normalize(w_in.double(), dim=2)  # (A, h, d)
    cols = torch.nn.functional.normalize(w_out.double(), dim=1)  # (B, d, h)
    cos = torch.einsum("ahd,bdh->ab", rows, cols) / w_in.shape[1]
    return cos.abs()


SCORES = {"ddr": ddr_scores, "cosine": cosine_scores}


@dataclass(frozen=True)
class Pairing:
    """Assigned ``(inp_id, out_id)`` pairs, the score matrix, and how clearly they won."""

    pairs: tuple[tuple[int, int], ...]
    scores: np.ndarray  # (D, D): rows are input pieces in roles order, columns output pieces
    assigned_min: float  # lowest score among assigned pairs
    unassigned_max: float  # highest score among all other pairs

    @property
    def gap(self) -> float:
        return self.assigned_min - self.unassigned_max


def assign(scores: np.ndarray) -> np.ndarray:
    """Column assigned to each row by the Hungarian algorithm, maximising the total score."""
    _, cols = linear_sum_assignment(scores, maximize=True)
    return cols


def pair_pieces(puzzle: Puzzle, method: str = "ddr") -> Pairing:
    """Pair every input projection with an output projection using score ``method``."""
    inputs, outputs = puzzle.roles.inputs, puzzle.roles.outputs
    w_in = torch.stack([puzzle.pieces[i].weight for i in inputs])
    w_out = torch.stack([puzzle.pieces[o].weight for o in outputs])
    scores = SCORES[method](w_in, w_out).numpy()
    cols = assign(scores)
    mask = np.zeros_like(scores, dtype=bool)
    mask[np.arange(len(cols)), cols] = True
    return Pairing(
        pairs=tuple((inputs[a], outputs[b]) for a, b in enumerate(cols)),
        scores=scores,
        assigned_min=float(scores[mask].min()),
        unassigned_max=float(scores[~mask].max()) if (~mask).any() else float("nan"),
    )
