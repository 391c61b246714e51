"""First-order screens of candidate arrangements for sequence families (Gauss–Newton with a sketch).

An exact candidate costs a forward through every layer from its first change to the output. A
screen estimates its loss from one forward and backward pass of the current arrangement and a
forward of only the layers it changes:

``loss(c) ≈ L + Σ_t g_t · δ_t + ‖Σ_t J_t δ_t‖² / N``

where ``δ_t`` is what the candidate's layer at position ``t`` changes in that layer's output (both
layers applied to the current arrangement's cached input state), ``J_t`` the Jacobian of the
network's output with respect to the state leaving position ``t``, ``g_t = 2 J_tᵀ r / N`` the
gradient of the loss there (``r``: the output's error, ``N`` its size). The quadratic term is the
Gauss–Newton one, estimated with a Gaussian sketch ``S`` of ``k`` rows of the output:
``E ‖S J δ‖² / k = ‖J δ‖²``. Both ``g_t`` and ``S J_t`` for every position come from one backward
pass of ``k + 1`` copies of the rows (``torch.autograd``; any family whose layer is written in
torch works). What a screen leaves out: how a change at one position alters the input of a later
changed position, and everything past second order in the suffix (softmax, norms).

``docs/studies/real_screens_study.py`` measures screens against exact losses (rank correlation,
how often the best exact move is among the screen's best few).
"""

from __future__ import annotations

import torch

from reassembly.kernel import Evaluator


class Screen:
    """First-order estimates of candidates' losses around one arrangement.

    Parameters
    ----------
    ev
        Evaluates on the search's rows (its plain squared error; a ``transform`` is not supported).
    arr
        The arrangement ``(D, S)`` the estimates are around.
    states
        Its prefix states ``(D + 1, n, T, d)`` (``ev.states(arr)``).
    sketch
        Rows ``k`` of the Gaussian sketch of the output.
    generator
        Draws the sketch.
    """

    def __init__(
        self,
        ev: Evaluator,
        arr: torch.Tensor,
        states: torch.Tensor,
        sketch: int = 16,
        generator: torch.Generator | None = None,
    ) -> None:
        if ev.transform is not None:
            raise ValueError("a screen estimates the plain squared error; this evaluator weighs its errors")
        self.ev, self.arr, self.states, self.k = ev, arr, states, sketch
        family, stack = ev.family, ev.stack
        n = ev.n_rows
        copies = sketch + 1
        h = states[0].unsqueeze(0).expand(copies, *states[0].shape).reshape(copies * n, *states.shape[2:])
        h = h.clone().requires_grad_(True)
        leaving = []
        with torch.enable_grad():
            for row in arr.tolist():
                h = family.layer(stack.at(row), h)
                leaving.append(h)
            out = ev.output(h).reshape(copies, n, *ev.target.shape[1:])
            with torch.no_grad():
                err = out[0] - ev.target
                self.loss = float(err.pow(2).mean())
                size = err.numel()
                cot = torch.empty_like(out)
                cot[0] = 2 * err / size
                cot[1:] = torch.randn(sketch, *err.shape, generator=generator, dtype=err.dtype)
            grads = torch.autograd.grad(out, leaving, grad_outputs=cot)
        #: ``(D, k + 1, n·T·d)``: per position, the loss gradient and the sketch rows ``S J_t``.
        self.jac = torch.stack([g.reshape(copies, -1) for g in grads]).detach()
        self.size = size
        ev.evaluations += copies  # the backward pass counts as the forwards of its copies

    def losses(self, cands: torch.Tensor) -> torch.Tensor:
        """Estimated losses of candidates ``(B, D, S)``.

        Parameters
        ----------
        cands
            Arrangements that differ from :attr:`arr` at some positions.
        """
        family, stack, states = self.ev.family, self.ev.stack, self.states
        changed = (cands != self.arr).any(-1)  # (B, D)
        total = torch.zeros(len(cands), self.k + 1, dtype=self.jac.dtype)
        with torch.no_grad():
            for t in changed.any(0).nonzero().flatten().tolist():
                which = changed[:, t].nonzero().flatten()
                rows, inverse = torch.unique(cands[which, t], dim=0, return_inverse=True)
                for r, row in enumerate(rows.tolist()):
                    delta = family.layer(stack.at(row), states[t]) - states[t + 1]
                    proj = self.jac[t] @ delta.flatten()  # (k + 1,)
                    total[which[inverse == r]] += proj
        quad = total[:, 1:].pow(2).mean(1) / self.size
        return self.loss + total[:, 0] + quad
