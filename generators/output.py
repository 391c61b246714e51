"""Where generated puzzles may be written: never over files a user owns."""

from __future__ import annotations

from pathlib import Path

from reassembly.answer import ANSWER_NAME
from reassembly.errors import ConfigError
from reassembly.loader import CSV_NAME, PIECES_DIR, SPEC_NAME
from reassembly.sequences import FIXED_NAME, SEQUENCES_NAME

METADATA_NAME = "generation.json"
FILES = (CSV_NAME, SEQUENCES_NAME, FIXED_NAME, SPEC_NAME, ANSWER_NAME, METADATA_NAME)
GENERATED = {*FILES, PIECES_DIR}


def _ours(root: Path) -> bool:
    """Whether ``root`` holds only what ``generate`` writes, with its ``generation.json``."""
    names = {p.name for p in root.iterdir()}
    pieces = root / PIECES_DIR
    return (
        METADATA_NAME in names
        and names <= GENERATED
        and (not pieces.exists() or all(p.name.startswith("piece_") and p.suffix == ".pth" for p in pieces.iterdir()))
    )


def claim_directory(root: Path, force: bool = False) -> Path:
    """Make ``root`` ready for a generated puzzle, removing only a previous puzzle's own files.

    A directory that is not empty and was not written by ``generate`` is refused unless ``force``
    (then its puzzle files are replaced, and nothing else is touched).
    """
    if root.exists() and not root.is_dir():
        raise ConfigError(f"--out {root}: exists and is not a directory")
    if root.is_dir() and any(root.iterdir()) and not _ours(root) and not force:
        raise ConfigError(
            f"--out {root}: not empty and not a puzzle written by 'reassembly generate'; "
            "choose a new directory, or pass --force to replace its puzzle files"
        )
    if (root / PIECES_DIR).is_symlink():
        raise ConfigError(f"--out {root}: {PIECES_DIR} is a symlink; refusing to delete or write through it")
    try:
        root.mkdir(parents=True, exist_ok=True)
        pieces = root / PIECES_DIR
        if pieces.is_dir():
            for stale in pieces.glob("piece_*.pth"):
                stale.unlink()
        for name in FILES:
            (root / name).unlink(missing_ok=True)
    except OSError as exc:
        raise ConfigError(f"--out {root}: cannot write there ({exc.strerror})") from None
    return root


def fresh_directory(root: Path, force: bool = False) -> Path:
    """``root``, created if need be; it must be empty (``force``: its files are left as they are and
    overwritten where the generator writes the same names)."""
    if root.exists() and not root.is_dir():
        raise ConfigError(f"--out {root}: exists and is not a directory")
    if root.is_dir() and any(root.iterdir()) and not force:
        raise ConfigError(f"--out {root}: not empty; choose a new directory")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--out {root}: cannot write there ({exc.strerror})") from None
    return root
