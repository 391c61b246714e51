"""Token sources without network: text shipped in each model's own wheel, tokenised in pure Python.

- WordPiece (BERT, uncased): lower-case, accents stripped, split on whitespace and punctuation,
  greedy longest-match word pieces (``##`` continues a word), ``[UNK]`` where none matches.
- Byte-level BPE (GPT-2 style, SmolLM2): bytes mapped to printable characters, words split by a
  GPT-2-like pattern (letters, single digits, punctuation runs, spaces), merges applied by rank.

Either is close to the models' own tokenisers; exactness does not matter here (any token sequence
is valid data), only that the sequences are real text the network was trained on.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import torch

from reassembly.errors import ConfigError


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    return (
        33 <= cp <= 47
        or 58 <= cp <= 64
        or 91 <= cp <= 96
        or 123 <= cp <= 126
        or unicodedata.category(ch).startswith("P")
    )


def _basic_words(text: str) -> list[str]:
    text = unicodedata.normalize("NFD", text.lower())
    text = "".join(
        c for c in text if unicodedata.category(c) != "Mn" and (c.isspace() or unicodedata.category(c)[0] != "C")
    )
    words: list[str] = []
    for chunk in text.split():
        word = ""
        for ch in chunk:
            if _is_punctuation(ch):
                words += [word, ch] if word else [ch]
                word = ""
            else:
                word += ch
        if word:
            words.append(word)
    return words


def wordpiece(text: str, vocab: dict[str, int], unknown: str = "[UNK]", longest: int = 100) -> list[int]:
    """Token ids of ``text`` under a WordPiece vocabulary (token -> id)."""
    ids = []
    for word in _basic_words(text):
        if len(word) > longest:
            ids.append(vocab[unknown])
            continue
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start and (("##" if start else "") + word[start:end]) not in vocab:
                end -= 1
            if end == start:
                pieces = [vocab[unknown]]
                break
            pieces.append(vocab[("##" if start else "") + word[start:end]])
            start = end
        ids += pieces
    return ids


@lru_cache(maxsize=1)
def _byte_chars() -> dict[int, str]:
    """GPT-2's map of bytes to printable characters."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    extra = [b for b in range(256) if b not in keep]
    return {**{b: chr(b) for b in keep}, **{b: chr(256 + i) for i, b in enumerate(extra)}}


_WORDS = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d| ?[^\s\w]+|\s+(?!\S)|\s+""")


def byte_bpe(text: str, tokens: list[str], merges: list[str]) -> list[int]:
    """Token ids of ``text`` under a byte-level BPE vocabulary (``tokens``) and ranked ``merges``."""
    vocab = {t: i for i, t in enumerate(tokens)}
    rank = {tuple(m.split(" ", 1)): i for i, m in enumerate(merges)}
    chars = _byte_chars()
    ids: list[int] = []
    for word in _WORDS.findall(text):
        parts = [chars[b] for b in word.encode("utf-8")]
        while len(parts) > 1:
            best, i = min((rank.get(pair, len(rank)), i) for i, pair in enumerate(zip(parts, parts[1:])))
            if best == len(rank):
                break
            parts[i : i + 2] = [parts[i] + parts[i + 1]]
        ids += [vocab[p] for p in parts if p in vocab]
    return ids


def windows(
    ids: list[int], rows: int, length: int, seed: int, bos: int | None = None, eos: int | None = None
) -> torch.Tensor:
    """``rows`` sequences ``(rows, length)`` cut from the token stream ``ids`` without overlap (each
    framed by ``bos``/``eos`` where given), chosen by ``seed`` among all such windows, in text order."""
    inner = length - (bos is not None) - (eos is not None)
    if inner < 1:
        raise ConfigError(f"--length {length} leaves no room for text tokens")
    available = len(ids) // inner
    if rows > available:
        raise ConfigError(f"--rows {rows}: the text has only {available} windows of {length} tokens")
    chosen = torch.randperm(available, generator=torch.Generator().manual_seed(seed))[:rows].sort().values.tolist()
    out = [
        ([bos] if bos is not None else []) + ids[k * inner : (k + 1) * inner] + ([eos] if eos is not None else [])
        for k in chosen
    ]
    return torch.tensor(out, dtype=torch.long)
