"""Content-addressed cache of trained models (keyed by the training options).

An entry is ``models/<key>.pt`` (the state dict, read with ``torch.load(weights_only=True)``) plus
``models/<key>.json`` (the SHA-256 of the ``.pt`` bytes, the configuration and the loss curve).
Both are written to a temporary file and moved into place with ``os.replace``; the sidecar goes
last, so an entry without one, or whose bytes do not match its checksum, is treated as absent and
rebuilt.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from reassembly.atomic import atomic_write

CACHE_ENV = "REASSEMBLY_CACHE"
log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """``$REASSEMBLY_CACHE``, else ``platformdirs.user_cache_dir("reassembly")``."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("reassembly"))


@dataclass(frozen=True)
class CacheEntry:
    state: dict[str, torch.Tensor]
    meta: dict


class ModelCache:
    """Trained-model store under ``root / "models"``."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        self.dir = self.root / "models"

    def paths(self, key: str) -> tuple[Path, Path]:
        return self.dir / f"{key}.pt", self.dir / f"{key}.json"

    def load(self, key: str) -> CacheEntry | None:
        """The entry for ``key``, or ``None`` where it is missing, partial or corrupt."""
        weights, sidecar = self.paths(key)
        if not weights.is_file() or not sidecar.is_file():
            return None
        try:
            meta = json.loads(sidecar.read_text())
            data = weights.read_bytes()
            if hashlib.sha256(data).hexdigest() != meta["sha256"]:
                raise ValueError("checksum mismatch")
            state = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
            if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
                raise ValueError("not a state dict")
        except Exception as exc:  # any fault means: rebuild, never use
            log.warning("cache entry %s is corrupt (%s); it will be rebuilt", weights, exc)
            return None
        return CacheEntry(state=state, meta=meta)

    def store(self, key: str, state: dict[str, torch.Tensor], meta: dict) -> None:
        weights, sidecar = self.paths(key)
        buf = io.BytesIO()
        torch.save({k: v.detach().cpu().contiguous() for k, v in state.items()}, buf)
        data = buf.getvalue()
        try:
            atomic_write(weights, data)
            atomic_write(
                sidecar, (json.dumps({**meta, "sha256": hashlib.sha256(data).hexdigest()}, indent=1) + "\n").encode()
            )
        except OSError as exc:  # a read-only or full cache directory: the cache is optional
            log.warning(
                "could not store the trained model in the cache %s (%s); going on without it", self.dir, exc.strerror
            )
