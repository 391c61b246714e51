"""Where the real Jane Street puzzle lives and how its answer is checked."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from reassembly.answer import Answer
from reassembly.errors import PuzzleError

JANESTREET_SHA256 = "093be1cf2d24094db903cbc3e8d33d306ebca49c6accaa264e44b0b675e7d9c4"
#: :func:`reassembly.harness.puzzles.content_hash` of the published puzzle's files (pieces and data).
JANESTREET_CONTENT = "c102aee7e4b7484520ef45978b246b264c579e99ddbc3bbc11da630ae1a25275"
JANESTREET_PIECES = 97
JANESTREET_ENV = "REASSEMBLY_JANESTREET"


def janestreet_answer() -> Answer:
    """The published check: only the SHA-256 of the answer is known."""
    return Answer(sha256=JANESTREET_SHA256)


def is_janestreet(root: Path, puzzle: Any) -> bool:
    """Whether ``root`` (loaded as ``puzzle``) holds exactly the published puzzle's files."""
    import hashlib

    from reassembly.loader import visible_files

    if puzzle.family.name != "relu" or puzzle.layout.n_pieces != JANESTREET_PIECES:
        return False
    digest = hashlib.sha256()  # as reassembly.harness.puzzles.content_hash
    try:
        for rel in visible_files(root):
            digest.update(rel.encode() + b"\0" + hashlib.sha256((root / rel).read_bytes()).digest())
    except (OSError, PuzzleError):
        return False
    return digest.hexdigest() == JANESTREET_CONTENT


def _is_puzzle(path: Path) -> bool:
    return (path / "historical_data.csv").is_file() and (path / "pieces").is_dir()


def find_janestreet() -> Path | None:
    """``$REASSEMBLY_JANESTREET`` where set (a :class:`PuzzleError` if it names no puzzle directory:
    never a silent fall-back), else ``../shared/janestreet`` beside the checkout or the working
    directory, else ``None``."""
    env = os.environ.get(JANESTREET_ENV)
    if env:
        if not _is_puzzle(Path(env)):
            raise PuzzleError(
                f"${JANESTREET_ENV}={env}: not a puzzle directory (needs pieces/ and historical_data.csv)"
            )
        return Path(env)
    for c in (
        Path(__file__).resolve().parents[2] / "shared" / "janestreet",
        Path.cwd().parent / "shared" / "janestreet",
        Path.cwd() / "shared" / "janestreet",
    ):
        if _is_puzzle(c):
            return c
    return None
