"""Two-layer MLP blocks: ``x + out(act(inp(x)))`` for ReLU, GELU and SiLU, and the pre-norm block
``x + out(relu(inp(rmsnorm(x) * g)))`` whose norm gain ``g`` is a third piece."""

from __future__ import annotations

import math

import torch

from reassembly.families.base import (
    BlockFamily,
    CompiledBlock,
    Params,
    Slot,
    Tensor,
    linear,
    linear_residual,
    linear_vjp,
)

RMS_EPS = 1e-6


def _gelu_grad(z: Tensor) -> Tensor:
    cdf = 0.5 * (1 + torch.erf(z / math.sqrt(2)))
    return cdf + z * torch.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


def _silu_grad(z: Tensor) -> Tensor:
    s = torch.sigmoid(z)
    return s * (1 + z * (1 - s))


ACTIVATIONS = {  # activation applied in place to a fresh tensor, and its derivative
    "relu": (torch.relu_, lambda z: (z > 0).to(z.dtype)),
    "gelu": (torch.nn.functional.gelu, _gelu_grad),
    "silu": (lambda z: torch.nn.functional.silu(z, inplace=True), _silu_grad),
}


class MLPFamily(BlockFamily):
    """``x + out(act(inp(x)))``: an input projection ``(h, d)`` and an output projection ``(d, h)``,
    both with biases; a linear head ``(o, d)``."""

    slots = (Slot("inp", ("h", "d"), role="read", hidden_axis=0), Slot("out", ("d", "h"), role="write", hidden_axis=1))
    anchor = "inp"

    def __init__(self, activation: str) -> None:
        self.name = activation
        self.activation = activation
        self.act, self.act_grad = ACTIVATIONS[activation]
        self.rescaling = {"inp": 1, "out": -1} if activation == "relu" else {}  # relu(s z) = s relu(z), s > 0
        self.description = f"x + out({activation}(inp(x))), then a linear head"

    def branch(self, p: Params, h: Tensor) -> Tensor:
        return linear(self.act(linear(h, p["inp"])), p["out"])

    def block(self, p: Params, h: Tensor, out: Tensor | None = None) -> Tensor:
        return linear_residual(h, self.act(linear(h, p["inp"])), p["out"], out)

    def branch_vjp(self, p: Params, h: Tensor, c: Tensor) -> Tensor:
        slope = self.act_grad(linear(h, p["inp"])).unsqueeze(-2)  # (..., n, 1, hidden)
        return linear_vjp(linear_vjp(c, p["out"]).mul_(slope), p["inp"])

    def vjp_context(self, p: Params, h: Tensor) -> Tensor:
        return self.act_grad(linear(h, p["inp"]))  # the activation's slope at every hidden unit

    def compile(self, p: Params) -> CompiledBlock:
        return _CompiledMLP(self, p)


class _CompiledMLP(CompiledBlock):
    """The sequential loops' hot path: transposed weights kept, residual and bias fused into ``addmm``."""

    def __init__(self, family: MLPFamily, p: Params) -> None:
        super().__init__(family, p)
        (w_in, self.b_in), (w_out, self.b_out) = p["inp"], p["out"]
        self.w_in, self.w_out = w_in, w_out
        self.w_in_t, self.w_out_t = w_in.T.contiguous(), w_out.T.contiguous()  # row-major operands: ~5-8 % faster addmm
        self.act = family.act

    def __call__(self, h: Tensor, out: Tensor | None = None) -> Tensor:
        a = self.act(torch.addmm(self.b_in, h, self.w_in_t))
        return torch.addmm(h, a, self.w_out_t, out=out).add_(self.b_out)

    def vjp(self, slope: Tensor, c: Tensor, out: Tensor | None = None) -> Tensor:
        n, o, d = c.shape
        if o > 1:
            slope = slope.repeat_interleave(o, dim=0)
        flat = c.reshape(n * o, d)
        inner = (flat @ self.w_out).mul_(slope)
        return torch.addmm(flat, inner, self.w_in, out=None if out is None else out.view(n * o, d)).view(n, o, d)


def rmsnorm(x: Tensor) -> Tensor:
    """``x / sqrt(mean(x²) + eps)`` over the last dimension (without a gain)."""
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + RMS_EPS)


def _scale(g: Tensor, x: Tensor) -> Tensor:
    """Gain ``g`` (``(d,)`` or ``(B, d)``) broadcast over the row dimension of ``x``."""
    return g if g.ndim == 1 else g.reshape(g.shape[0], *([1] * (x.ndim - 2)), g.shape[-1])


class PreNormFamily(BlockFamily):
    """``x + out(relu(inp(rmsnorm(x) * g)))``: the gain ``g`` ``(d,)``, no bias, is a piece of its own."""

    name = "prenorm"
    slots = (
        Slot("norm", ("d",), bias=False, role="scale"),
        Slot("inp", ("h", "d"), role="read", hidden_axis=0),
        Slot("out", ("d", "h"), role="write", hidden_axis=1),
    )
    anchor = "inp"
    rescaling = {"inp": 1, "out": -1}
    description = "x + out(relu(inp(rmsnorm(x) * g))), then a linear head"

    def branch(self, p: Params, h: Tensor) -> Tensor:
        u = rmsnorm(h) * _scale(p["norm"].weight, h)
        return linear(torch.relu_(linear(u, p["inp"])), p["out"])

    def block(self, p: Params, h: Tensor, out: Tensor | None = None) -> Tensor:
        u = rmsnorm(h) * _scale(p["norm"].weight, h)
        return linear_residual(h, torch.relu_(linear(u, p["inp"])), p["out"], out)

    def compile(self, p: Params) -> CompiledBlock:
        return _CompiledPreNorm(self, p)

    def branch_vjp(self, p: Params, h: Tensor, c: Tensor) -> Tensor:
        r = torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + RMS_EPS)
        g = _scale(p["norm"].weight, h)
        u = h * r * g
        slope = (linear(u, p["inp"]) > 0).to(h.dtype).unsqueeze(-2)
        cu = linear_vjp(linear_vjp(c, p["out"]).mul_(slope), p["inp"])  # (..., n, o, d)
        v = cu * g.unsqueeze(-2)
        x, r = h.unsqueeze(-2), r.unsqueeze(-2)
        return r * (v - x * (r * r) * (x * v).mean(-1, keepdim=True))


class _CompiledPreNorm(CompiledBlock):
    """The gain folded into the input projection (``W diag(g)``), residual and bias fused into ``addmm``."""

    def __init__(self, family: PreNormFamily, p: Params) -> None:
        super().__init__(family, p)
        (w_in, self.b_in), (w_out, self.b_out) = p["inp"], p["out"]
        self.w_eff_t = (w_in * p["norm"].weight[None, :]).T.contiguous()
        self.w_out_t = w_out.T.contiguous()

    def __call__(self, h: Tensor, out: Tensor | None = None) -> Tensor:
        a = torch.addmm(self.b_in, rmsnorm(h), self.w_eff_t).relu_()
        return torch.addmm(h, a, self.w_out_t, out=out).add_(self.b_out)
