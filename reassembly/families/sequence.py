"""Families of real transformer layers: per-puzzle options, a fixed stem and head, and states of
token sequences ``(..., n, T, d)``.

The pieces are the tensors of a layer (a linear map's weight with its bias, a norm's gain with its
bias); the embeddings and the final norm are *fixed*: known, stored apart (``fixed.pth``) and not
part of the puzzle. Blocks here are not ``x + branch(x)`` with a small branch (a post-norm block
renormalises its whole output), so :meth:`SequenceFamily.branch` is ``block(x) - x``. Output
Jacobians over whole sequences are too large to screen moves with: ``screens`` is off.

Weights may carry one leading batch dimension (a batch of candidate blocks) that matches a leading
dimension of the states, as for every family (:mod:`reassembly.families.base`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import torch

from reassembly.errors import PuzzleError
from reassembly.families.base import BlockFamily, Params, SlotParams, Tensor, linear


def per_row(v: Tensor, x: Tensor) -> Tensor:
    """A vector ``(d,)`` or a batch of them ``(B, d)`` shaped to broadcast over ``x`` ``(..., d)``."""
    return v if v.ndim == 1 else v.reshape(*v.shape[:-1], *([1] * (x.ndim - v.ndim)), v.shape[-1])


def layer_norm(x: Tensor, p: SlotParams, eps: float) -> Tensor:
    """LayerNorm over the last dimension with gain ``p.weight`` and bias ``p.bias`` (batched or not)."""
    mu = x.mean(-1, keepdim=True)
    z = x - mu
    z = z * torch.rsqrt(z.pow(2).mean(-1, keepdim=True) + eps)
    z = z * per_row(p.weight, x)
    return z if p.bias is None else z + per_row(p.bias, x)


def rms_norm(x: Tensor, gain: Tensor, eps: float) -> Tensor:
    """RMSNorm over the last dimension with gain ``gain`` (batched or not)."""
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * per_row(gain, x)


def split_heads(x: Tensor, heads: int) -> Tensor:
    """``(..., T, heads * hd)`` -> ``(..., heads, T, hd)``."""
    return x.unflatten(-1, (heads, -1)).transpose(-2, -3)


def merge_heads(x: Tensor) -> Tensor:
    """``(..., heads, T, hd)`` -> ``(..., T, heads * hd)``."""
    return x.transpose(-2, -3).flatten(-2)


@lru_cache(maxsize=16)
def _rotary_tables(length: int, dim: int, base: float, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    inv = base ** (-torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    angle = torch.arange(length, dtype=torch.float64)[:, None] * inv[None]
    angle = torch.cat([angle, angle], dim=-1)
    return angle.cos().to(dtype), angle.sin().to(dtype)


def rotary(x: Tensor, base: float) -> Tensor:
    """Rotary position embedding of ``x`` ``(..., T, hd)`` in the half-split layout (pairs ``i`` and
    ``i + hd/2`` rotate together, as in the Hugging Face Llama)."""
    cos, sin = _rotary_tables(x.shape[-2], x.shape[-1], float(base), x.dtype)
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated * sin


def attention(q: Tensor, k: Tensor, v: Tensor, causal: bool) -> Tensor:
    """Scaled dot-product attention over ``(..., heads, T, hd)``; ``k`` and ``v`` may have fewer
    heads (grouped-query attention: each serves ``heads / kv_heads`` consecutive query heads)."""
    group = q.shape[-3] // k.shape[-3]
    if group > 1:
        k, v = k.repeat_interleave(group, dim=-3), v.repeat_interleave(group, dim=-3)
    return torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal)


class SequenceFamily(BlockFamily):
    """Base of the real-network families: options with defaults, sequence data, no screens.

    Parameters
    ----------
    **options
        Values for the names in ``defaults`` (the others keep their default).
    """

    data_format = "sequences"
    screens = False
    #: Whether a token's output depends only on the tokens up to it (then the first ``t`` tokens of
    #: every row are a smaller puzzle with the same answer).
    causal = False
    solver = "transformer"
    head_slots = ()
    defaults: dict[str, Any] = {}

    def __init__(self, **options: Any) -> None:
        unknown = sorted(set(options) - set(self.defaults))
        if unknown:
            raise PuzzleError(f"family {self.name!r}: unknown option(s) {unknown}; known: {sorted(self.defaults)}")
        values = {**self.defaults, **options}
        for key, default in self.defaults.items():
            value = values[key]
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
                or value <= 0
                or (isinstance(default, int) and value != int(value))
            ):
                raise PuzzleError(
                    f"family {self.name!r}: option {key!r} must be a positive {type(default).__name__}, got {value!r}"
                )
            values[key] = type(default)(value)
        self._options = values
        for key, value in values.items():  # options read as attributes (``self.eps``)
            setattr(self, key, value)

    @property
    def options(self) -> dict[str, Any]:
        return dict(self._options)

    def branch(self, p: Params, h: Tensor) -> Tensor:
        return self.block(p, h) - h

    def block(self, p: Params, h: Tensor, out: Tensor | None = None) -> Tensor:
        y = self.layer(p, h)
        return y if out is None else out.copy_(y)

    def layer(self, p: Params, h: Tensor) -> Tensor:
        """One whole layer on states ``(..., n, T, d)``."""
        raise NotImplementedError

    def head(self, p: Params, h: Tensor) -> Tensor:
        return h

    def head_vjp(self, p: Params, n: int) -> Tensor:  # pragma: no cover - screens are off
        raise NotImplementedError

    def check_sizes(self, sizes: Mapping[str, int]) -> str | None:
        d, heads = sizes["d"], self.heads("q")
        if d % heads:
            return f"width {d} is not a multiple of {heads} heads"
        return None

    def project(self, p: Params, h: Tensor, slot: str) -> Tensor:
        """``slot``'s projection of ``h`` split into heads ``(..., n, heads, T, hd)``."""
        return split_heads(linear(h, p[slot]), self.heads(slot))


def check_stem(family: BlockFamily, fixed: Mapping[str, Tensor], tokens: Tensor, source: str) -> None:
    """Check that ``tokens`` ``(N, T)`` index rows of the fixed embedding table and that tables
    indexed by position (shape ``("t", ...)``) cover ``T`` positions (a :class:`PuzzleError` if not)."""
    if tokens.ndim != 2 or 0 in tokens.shape:
        raise PuzzleError(
            f"{source}: tokens must be a non-empty (sequences, length) table, got shape {tuple(tokens.shape)}"
        )
    rows = fixed["embed"].shape[0]
    if int(tokens.min()) < 0 or int(tokens.max()) >= rows:
        raise PuzzleError(
            f"{source}: tokens must index the {rows} rows of the fixed embedding table, found ids "
            f"{int(tokens.min())}..{int(tokens.max())}"
        )
    for name, shape in family.fixed_shapes.items():
        if shape[0] == "t" and fixed[name].shape[0] < tokens.shape[1]:
            raise PuzzleError(
                f"{source}: sequences of {tokens.shape[1]} tokens are longer than the "
                f"{fixed[name].shape[0]} positions of fixed tensor {name!r}"
            )
