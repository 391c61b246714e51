"""Everything a cache folder holds, counted and cleared as one: trained models (``models/``),
fetched real-network weights (``real/<model>/``) and anything else found there (partial
downloads, temporary files, entries of older versions)."""

from __future__ import annotations

import re
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

KINDS = ("trained models", "real networks' weights", "other entries")


@dataclass(frozen=True)
class Holding:
    """One thing in the cache: its kind (one of :data:`KINDS`), name, paths and size in bytes."""

    kind: str
    name: str
    paths: tuple[Path, ...]
    size: int


_MODEL = re.compile(r"^[0-9a-f]{64}\.json$")  # a trained model's sidecar, named by its cache key


def _regular(path: Path) -> bool:
    """A regular file, not followed through a link (FIFOs, devices and links are never ours)."""
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def ours(path: Path) -> bool:
    """Whether an entry the cache does not know by name is one of its own temporary files
    (``.name.….tmp``, ``.tmp-…``: left by an interrupted write or download), safe to delete."""
    return path.name.startswith(".") and "tmp" in path.name


def _size(path: Path) -> int:
    if path.is_symlink() or path.is_file():
        return path.lstat().st_size
    return sum(f.lstat().st_size for f in path.rglob("*") if f.is_file() or f.is_symlink())


def holdings(root: Path) -> list[Holding]:
    """Every entry under ``root``, each path in exactly one holding.

    Parameters
    ----------
    root
        The cache folder (``$REASSEMBLY_CACHE`` or the user cache folder).
    """
    out: list[Holding] = []
    if not root.is_dir():
        return out
    models, real = root / "models", root / "real"
    seen: set[Path] = set()
    if models.is_dir():
        for sidecar in sorted(p for p in models.glob("*.json") if _MODEL.match(p.name) and _regular(p)):
            paths = tuple(p for p in (sidecar, sidecar.with_suffix(".pt")) if _regular(p))
            seen.update(paths)
            out.append(Holding(KINDS[0], sidecar.stem, paths, sum(map(_size, paths))))
    if real.is_dir():
        for folder in sorted(p for p in real.iterdir() if p.is_dir() and not p.name.startswith(".")):
            seen.add(folder)
            out.append(Holding(KINDS[1], folder.name, (folder,), _size(folder)))
    for parent in (root, models, real):
        if not parent.is_dir():
            continue
        for path in sorted(parent.iterdir()):
            if path in seen or (parent == root and path in (models, real)):
                continue
            out.append(Holding(KINDS[2], str(path.relative_to(root)), (path,), _size(path)))
    return out


def summary(items: list[Holding]) -> str:
    """``"2 trained models, 1 real networks' weights, 0 other entries, 197.3 MB"``.

    Parameters
    ----------
    items
        What :func:`holdings` found.
    """
    counts = ", ".join(f"{sum(h.kind == k for h in items)} {k}" for k in KINDS)
    return f"{counts}, {sum(h.size for h in items) / 1e6:.1f} MB"


def clear(items: list[Holding]) -> list[Holding]:
    """Delete what the cache wrote: trained models, fetched weights and its own temporary files;
    anything else found in the folder is left alone and returned.

    Parameters
    ----------
    items
        What :func:`holdings` found.
    """
    kept = []
    for item in items:
        if item.kind == KINDS[2] and not all(ours(p) for p in item.paths):
            kept.append(item)
            continue
        for path in item.paths:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
    return kept
