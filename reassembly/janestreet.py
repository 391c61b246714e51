"""Where the real Jane Street puzzle lives and how its answer is checked."""
from __future__ import annotations

import os
from pathlib import Path

from reassembly.answer import Answer
from reassembly.errors import PuzzleError

JANESTREET_SHA256 = "093be1cf2d24094db903cbc3e8d33d306ebca49c6accaa264e44b0b675e7d9c4"
JANESTREET_ENV = "REASSEMBLY_JANESTREET"


def janestreet_answer() -> Answer:
    """The published check: only the SHA-256 of the answer is known."""
    return Answer(sha256=JANESTREET_SHA256)


def _is_puzzle(path: Path) -> bool:
    return (path / "historical_data.csv").is_file() and (path / "pieces").is_dir()


def find_janestreet() -> Path | None:
    """``$REASSEMBLY_JANESTREET`` where set (a :class:`PuzzleError` if it names no puzzle directory:
    never a silent fall-back), else ``../shared/janestreet`` beside the checkout or the working
    directory, else ``None``."""
    env = os.environ.get(JANESTREET_ENV)
    if env:
        if not _is_puzzle(Path(env)):
            raise PuzzleError(f"${JANESTREET_ENV}={env}: not a puzzle directory (needs pieces/ and historical_data.csv)")
        return Path(env)
    for c in (Path(__file__).resolve().parents[2] / "shared" / "janestreet", Path.cwd().parent / "shared" / "janestreet",
              Path.cwd() / "shared" / "janestreet"):
        if _is_puzzle(c):
            return c
    return None
