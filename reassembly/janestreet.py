"""Where the real Jane Street puzzle lives and how its answer is checked."""
from __future__ import annotations

import os
from pathlib import Path

from reassembly.answer import Answer

JANESTREET_SHA256 = "093be1cf2d24094db903cbc3e8d33d306ebca49c6accaa264e44b0b675e7d9c4"
JANESTREET_ENV = "REASSEMBLY_JANESTREET"


def janestreet_answer() -> Answer:
    """The published check: only the SHA-256 of the answer is known."""
    return Answer(sha256=JANESTREET_SHA256)


def find_janestreet() -> Path | None:
    """``$REASSEMBLY_JANESTREET``, else ``../shared/janestreet`` beside the checkout or the working directory."""
    env = os.environ.get(JANESTREET_ENV)
    candidates = [Path(env)] if env else []
    candidates += [
        Path(__file__).resolve().parents[2] / "shared" / "janestreet",
        Path.cwd().parent / "shared" / "janestreet",
        Path.cwd() / "shared" / "janestreet",
    ]
    for c in candidates:
        if (c / "historical_data.csv").is_file() and (c / "pieces").is_dir():
            return c
    return None
