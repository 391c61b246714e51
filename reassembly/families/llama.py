"""Pre-RMSNorm Llama layers (SmolLM2): RMSNorm, grouped-query causal attention with rotary position
embeddings, RMSNorm, a SwiGLU MLP; no biases. The token embeddings are the fixed stem and the final
RMSNorm the fixed head (the output is the final hidden state the language-model head reads)."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from reassembly.families.base import Circuit, Mixture, Params, Slot, Tensor, linear
from reassembly.families.sequence import SequenceFamily, attention, merge_heads, rms_norm, rotary, split_heads


class LlamaFamily(SequenceFamily):
    """``a = x + O·attn(rope(Q u), rope(K u), V u)`` with ``u = rmsnorm(x) * g1``, then
    ``a + down(silu(gate w) * up w)`` with ``w = rmsnorm(a) * g2``.

    Parameters
    ----------
    n_heads
        Query heads (each of width ``d / n_heads``).
    n_kv_heads
        Key and value heads (each serves ``n_heads / n_kv_heads`` consecutive query heads).
    rope_base
        Base of the rotary frequencies (half-split layout: pairs ``i`` and ``i + hd/2``).
    eps
        The RMSNorms' epsilon.
    """

    name = "llama"
    slots = (
        Slot("attn_norm", ("d",), bias=False, role="scale"),
        Slot("q", ("d", "d"), bias=False, role="read", hidden_axis=0),
        Slot("k", ("k", "d"), bias=False, role="read", hidden_axis=0),
        Slot("v", ("k", "d"), bias=False, role="read", hidden_axis=0),
        Slot("o", ("d", "d"), bias=False, role="write", hidden_axis=1),
        Slot("mlp_norm", ("d",), bias=False, role="scale"),
        Slot("gate", ("h", "d"), bias=False, role="read", hidden_axis=0),
        Slot("up", ("h", "d"), bias=False, role="read", hidden_axis=0),
        Slot("down", ("d", "h"), bias=False, role="write", hidden_axis=1),
    )
    anchor = "down"
    causal = True
    mixed_kinds = ("qk", "vo")
    circuits = (Circuit("q", "k"), Circuit("v", "o"), Circuit("up", "down"), Circuit("gate", "up", "align"))
    shared_heads = {"q": "k"}
    defaults = {"n_heads": 9, "n_kv_heads": 3, "rope_base": 100000.0, "eps": 1e-5}
    fixed_shapes = {"embed": ("v", "d"), "final_norm": ("d",)}
    description = "pre-RMSNorm Llama layer: grouped-query attention with rotary embeddings, SwiGLU MLP; fixed embeddings and final norm"

    def heads(self, slot: str) -> int:
        return self.n_heads if slot in ("q", "o") else self.n_kv_heads if slot in ("k", "v") else 1

    def check_sizes(self, sizes: Mapping[str, int]) -> str | None:
        d, k = sizes["d"], sizes["k"]
        if d % self.n_heads or self.n_heads % self.n_kv_heads or (d // self.n_heads) % 2:
            return f"width {d} does not split into {self.n_heads} heads of even width shared by {self.n_kv_heads} key-value heads"
        if k != self.n_kv_heads * (d // self.n_heads):
            return f"key/value width {k} is not {self.n_kv_heads} heads of width {d // self.n_heads}"
        return None

    def stem(self, fixed: Mapping[str, Tensor], tokens: Tensor) -> Tensor:
        return fixed["embed"][tokens]

    def layer(self, p: Params, h: Tensor) -> Tensor:
        u = rms_norm(h, p["attn_norm"].weight, self.eps)
        q, k = rotary(self.project(p, u, "q"), self.rope_base), rotary(self.project(p, u, "k"), self.rope_base)
        h = h + linear(merge_heads(attention(q, k, self.project(p, u, "v"), causal=self.causal)), p["o"])
        u = rms_norm(h, p["mlp_norm"].weight, self.eps)
        return h + linear(torch.nn.functional.silu(linear(u, p["gate"])) * linear(u, p["up"]), p["down"])

    def head(self, p: Params, h: Tensor) -> Tensor:
        return rms_norm(h, p["final_norm"].weight, self.eps)

    def mixed_layer(self, p: Params, h: Tensor, mix: Mixture) -> Tensor:
        """One layer whose attention and norm gains are *mixtures* (differentiable in the weights):
        ``Σ_j mix.gains[0][j] g_j`` as the attention norm's gain (a gain enters linearly), the
        attention pattern ``Σ_i mix.weights["qk"][i] softmax(Q_i K_i)`` of the Q/K pairs, the
        values and output ``Σ_j mix.weights["vo"][j] O_j (P V_j u)`` of the V/O pairs (``P``: the
        mixed pattern), the MLP norm's gain ``Σ_j mix.gains[1][j] g_j``; the MLP is ``p``'s. With
        one-hot weights it is :meth:`layer` exactly.

        Parameters
        ----------
        p
            The layer's MLP tensors (``gate``, ``up``, ``down``).
        h
            States ``(n, T, d)`` entering the layer.
        mix
            The candidate tensors and their weights (:class:`~reassembly.families.base.Mixture`).
        """
        q, k = mix.parts["qk"]
        v, o = mix.parts["vo"]
        u = rms_norm(h, mix.gains[0] @ mix.gain_pool, self.eps)
        heads, hd = self.n_heads, h.shape[-1] // self.n_heads
        group = self.n_heads // self.n_kv_heads
        qs = rotary(split_heads(torch.einsum("ntd,jed->jnte", u, q), heads), self.rope_base)
        ks = rotary(split_heads(torch.einsum("ntd,jed->jnte", u, k), self.n_kv_heads), self.rope_base)
        scores = qs @ ks.repeat_interleave(group, dim=-3).transpose(-1, -2) / hd**0.5
        T = h.shape[-2]
        scores = scores.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
        pattern = torch.einsum("j,jnhst->nhst", mix.weights["qk"], scores.softmax(-1))
        vs = split_heads(torch.einsum("ntd,jed->jnte", u, v), self.n_kv_heads).repeat_interleave(group, dim=-3)
        ys = merge_heads(pattern @ vs)  # (j, n, T, d)
        h = h + torch.einsum("j,jnte,jde->ntd", mix.weights["vo"], ys, o)
        u = rms_norm(h, mix.gains[1] @ mix.gain_pool, self.eps)
        return h + linear(torch.nn.functional.silu(linear(u, p["gate"])) * linear(u, p["up"]), p["down"])
