"""Ground truth, kept apart from the :class:`~reassembly.puzzle.Puzzle` that solvers receive."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from reassembly.errors import PuzzleError
from reassembly.permutation import permutation_sha256

ANSWER_NAME = "answer.json"


@dataclass(frozen=True)
class Answer:
    """The true permutation where known, else only its SHA-256 (as for the Jane Street puzzle)."""

    sha256: str
    permutation: tuple[int, ...] | None = None

    @classmethod
    def from_permutation(cls, permutation: list[int] | tuple[int, ...]) -> "Answer":
        perm = tuple(int(i) for i in permutation)
        return cls(sha256=permutation_sha256(perm), permutation=perm)

    def to_json(self) -> dict:
        return {"sha256": self.sha256, "permutation": list(self.permutation) if self.permutation else None}


def save_answer(answer: Answer, directory: str | Path) -> Path:
    path = Path(directory) / ANSWER_NAME
    path.write_text(json.dumps(answer.to_json()) + "\n")
    return path


def load_answer(directory: str | Path) -> Answer | None:
    """Read ``DIR/answer.json`` (``None`` where absent). Harness and scoring only: never solvers."""
    path = Path(directory) / ANSWER_NAME
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        perm = data.get("permutation")
        if perm is not None:
            answer = Answer.from_permutation(perm)
            if data.get("sha256") not in (None, answer.sha256):
                raise PuzzleError(f"{path}: sha256 does not match the permutation")
            return answer
        return Answer(sha256=str(data["sha256"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise PuzzleError(f"{path}: not a valid answer file ({exc})") from exc
