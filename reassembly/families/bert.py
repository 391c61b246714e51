"""Post-LayerNorm BERT layers (all-MiniLM-L6-v2): attention with Q, K, V, O and biases, LayerNorm,
a GELU MLP, LayerNorm; the embeddings (word, position, token type, LayerNorm) are the fixed stem and
the last layer's output is the network's output."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from reassembly.families.base import Circuit, Params, Slot, SlotParams, Tensor, linear
from reassembly.families.sequence import SequenceFamily, attention, layer_norm, merge_heads

_ATTENTION = ("q", "k", "v", "o")


class BertFamily(SequenceFamily):
    """``a = LN(x + O·attn(Q x, K x, V x))``, then ``LN(a + out(gelu(inp a)))``.

    Parameters
    ----------
    n_heads
        Attention heads (each of width ``d / n_heads``).
    eps
        The LayerNorms' epsilon.
    """

    name = "bert"
    slots = (
        Slot("q", ("d", "d"), role="read", hidden_axis=0),
        Slot("k", ("d", "d"), role="read", hidden_axis=0),
        Slot("v", ("d", "d"), role="read", hidden_axis=0),
        Slot("o", ("d", "d"), role="write", hidden_axis=1),
        Slot("attn_norm", ("d",), role="scale"),
        Slot("inp", ("h", "d"), role="read", hidden_axis=0),
        Slot("out", ("d", "h"), role="write", hidden_axis=1),
        Slot("out_norm", ("d",), role="scale"),
    )
    anchor = "inp"
    circuits = (Circuit("q", "k"), Circuit("v", "o"), Circuit("inp", "out"))
    defaults = {"n_heads": 12, "eps": 1e-12}
    fixed_shapes = {
        "embed": ("v", "d"),
        "position": ("t", "d"),
        "token_type": ("d",),
        "embed_norm_weight": ("d",),
        "embed_norm_bias": ("d",),
    }
    description = "post-LayerNorm BERT layer: LN(x + attention), LN(. + GELU MLP); fixed embeddings"

    def heads(self, slot: str) -> int:
        return self.n_heads if slot in _ATTENTION else 1

    def stem(self, fixed: Mapping[str, Tensor], tokens: Tensor) -> Tensor:
        x = fixed["embed"][tokens] + fixed["position"][: tokens.shape[-1]] + fixed["token_type"]
        return layer_norm(x, SlotParams(fixed["embed_norm_weight"], fixed["embed_norm_bias"]), self.eps)

    def layer(self, p: Params, h: Tensor) -> Tensor:
        a = attention(self.project(p, h, "q"), self.project(p, h, "k"), self.project(p, h, "v"), causal=False)
        h = layer_norm(h + linear(merge_heads(a), p["o"]), p["attn_norm"], self.eps)
        m = linear(torch.nn.functional.gelu(linear(h, p["inp"])), p["out"])
        return layer_norm(h + m, p["out_norm"], self.eps)
