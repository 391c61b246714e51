"""Everything a cache folder holds, counted and cleared as one: trained models (``models/``),
fetched real-network weights (``real/<model>/``) and anything else found there (partial
downloads, temporary files, entries of older versions)."""
from __future__ import annotations

import shutil
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
        for sidecar in sorted(models.glob("*.json")):
            paths = tuple(p for p in (sidecar, sidecar.with_suffix(".pt")) if p.is_file())
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


def clear(items: list[Holding]) -> None:
    """Delete every path of ``items`` (files and folders).

    Parameters
    ----------
    items
        What :func:`holdings` found.
    """
    for item in items:
        for path in item.paths:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
