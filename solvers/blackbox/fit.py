"""Surrogate ReLU networks fitted to the oracle's answers: full-batch L-BFGS in float64 on the mean
squared error, from PyTorch's default initialisation (the prior the paper leans on: networks come
from random initialisation and first-order training)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from reassembly.query.mlp import NAMES, forward

Params = dict[str, torch.Tensor]


@dataclass
class Fit:
    """A surrogate, its relative loss on the rows it was fitted to, and the L-BFGS iterations spent."""

    params: Params
    loss: float
    iterations: int


def initial(d: int, h: int, o: int, seed: int) -> Params:
    """``torch.nn.Linear``'s default: uniform in ±1/sqrt(fan_in) for weights and biases."""
    g = torch.Generator().manual_seed(seed)

    def uniform(shape: tuple[int, ...], fan_in: int) -> torch.Tensor:
        return (torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1) / fan_in**0.5

    return {"W1": uniform((h, d), d), "b1": uniform((h,), d), "W2": uniform((o, h), h), "b2": uniform((o,), h)}


def relative_loss(params: Params, X: torch.Tensor, Y: torch.Tensor) -> float:
    """Mean squared error over the outputs' variance."""
    with torch.no_grad():
        return float((forward(params, X) - Y).pow(2).mean() / Y.var().clamp_min(1e-300))


def fit(params: Params, X: torch.Tensor, Y: torch.Tensor, max_iter: int = 2000) -> Fit:
    """Continue ``params`` (copied) by L-BFGS with a strong-Wolfe line search until it stalls or
    ``max_iter`` iterations."""
    p = {n: params[n].detach().clone().requires_grad_(True) for n in NAMES}
    opt = torch.optim.LBFGS(
        [p[n] for n in NAMES],
        lr=1,
        max_iter=max_iter,
        history_size=50,
        tolerance_grad=1e-15,
        tolerance_change=1e-22,
        line_search_fn="strong_wolfe",
    )
    scale = float(Y.var().clamp_min(1e-300))

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = (forward(p, X) - Y).pow(2).mean() / scale
        loss.backward()
        return loss

    opt.step(closure)
    out = {n: t.detach() for n, t in p.items()}
    return Fit(out, relative_loss(out, X, Y), int(opt.state[opt._params[0]].get("n_iter", 0)))


def _flat(params: Params) -> torch.Tensor:
    return torch.cat([params[n].reshape(-1) for n in NAMES])


def _unflat(theta: torch.Tensor, like: Params) -> Params:
    out, at = {}, 0
    for n in NAMES:
        size = like[n].numel()
        out[n] = theta[at : at + size].reshape(like[n].shape)
        at += size
    return out


def jacobian(p: Params, X: torch.Tensor) -> torch.Tensor:
    """``(n * o, P)``: derivatives of the outputs (row by row) in the order of :data:`NAMES`."""
    n, o = X.shape[0], p["W2"].shape[0]
    a = X @ p["W1"].T + p["b1"]
    gate = p["W2"][None, :, :] * (a > 0).to(X.dtype)[:, None, :]  # (n, o, h)
    eye = torch.eye(o, dtype=X.dtype)
    parts = [
        (gate[..., None] * X[:, None, None, :]).reshape(n, o, -1),
        gate,
        (eye[None, :, :, None] * torch.relu(a)[:, None, None, :]).reshape(n, o, -1),
        eye.expand(n, o, o),
    ]
    return torch.cat(parts, dim=2).reshape(n * o, -1)


def normal_equations(
    p: Params, X: torch.Tensor, r: torch.Tensor, chunk: int = 2048
) -> tuple[torch.Tensor, torch.Tensor]:
    """``J^T J`` and ``J^T r`` accumulated over row chunks (the Jacobian is never whole)."""
    o = p["W2"].shape[0]
    A = g = None
    for start in range(0, len(X), chunk):
        J = jacobian(p, X[start : start + chunk])
        part = r[start * o : (start + chunk) * o]
        A = J.T @ J if A is None else A + J.T @ J
        g = J.T @ part if g is None else g + J.T @ part
    return A, g


def polish(params: Params, X: torch.Tensor, Y: torch.Tensor, max_iter: int = 50) -> Fit:
    """Levenberg–Marquardt from ``params``: near an exact fit (zero residual) Gauss–Newton steps
    converge quadratically where L-BFGS crawls. Costs ``n o P²`` per step: small networks only."""
    theta = _flat(params)
    scale = float(Y.var().clamp_min(1e-300))

    def residual(t: torch.Tensor) -> torch.Tensor:
        return (forward(_unflat(t, params), X) - Y).reshape(-1)

    r = residual(theta)
    loss, damping, steps = float(r.square().mean()) / scale, 1e-3, 0
    for steps in range(1, max_iter + 1):  # noqa: B007 - the steps taken are returned
        A, g = normal_equations(_unflat(theta, params), X, r)
        diag = A.diagonal().clamp_min(1e-12)
        while damping < 1e12:
            step = torch.linalg.solve(A + damping * torch.diag(diag), -g)
            r_new = residual(theta + step)
            new = float(r_new.square().mean()) / scale
            if new < loss:
                theta, r, damping = theta + step, r_new, max(damping / 3, 1e-12)
                break
            damping *= 5
        else:
            break
        converged = new <= 1e-28 or loss - new <= 1e-6 * loss
        loss = new
        if converged:
            break
    out = _unflat(theta, params)
    return Fit(out, relative_loss(out, X, Y), steps)
