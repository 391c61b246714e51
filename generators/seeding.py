"""Independent random streams derived from one seed (data, training, shuffling, each perturbation)."""

from __future__ import annotations

import hashlib

import torch


def stream_seed(seed: int, purpose: str) -> int:
    """A 63-bit seed for ``purpose``, fixed by ``seed``."""
    return int(hashlib.sha256(f"{seed}:{purpose}".encode()).hexdigest()[:15], 16)


def generator(seed: int, purpose: str) -> torch.Generator:
    return torch.Generator().manual_seed(stream_seed(seed, purpose))
