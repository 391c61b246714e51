"""The one answer type, :class:`Assembly`, its text format, and the ground truth kept apart from puzzles.

An assembly names, block by block in network order, the piece in each of the family's slots, then
the head's pieces. Its text is those ids comma-joined without spaces: for the ``relu`` family
``inp_1,out_1,...,inp_D,out_D,last``, exactly the string whose SHA-256 Jane Street published.
"""

from __future__ import annotations

import hashlib
import json
import numbers
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from reassembly.errors import PermutationError, PuzzleError
from reassembly.puzzle import Layout
from reassembly.safeio import read_json

T = TypeVar("T")

ANSWER_NAME = "answer.json"


def _ids(values: Sequence[Any], what: str) -> tuple[int, ...]:
    """Strict integers: a float, bool or string that merely looks like one is refused."""
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            if hasattr(v, "dtype") and getattr(v, "ndim", 1) == 0 and "int" in str(v.dtype):
                v = int(v)
            else:
                raise PermutationError(f"{what} holds {v!r}, which is not an integer piece id")
        out.append(int(v))
    return tuple(out)


@dataclass(frozen=True)
class Assembly:
    """Per block, the piece ids in slot order (network order of blocks), then the head's ids.

    Parameters
    ----------
    blocks
        One tuple of piece ids per block, in the family's slot order; blocks in network order.
    head
        The head's piece ids (in the family's head-slot order; empty where the head is fixed).
    """

    blocks: tuple[tuple[int, ...], ...]
    head: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "blocks", tuple(_ids(b, "a block") for b in self.blocks))
        object.__setattr__(self, "head", _ids(self.head, "the head"))

    def ids(self) -> list[int]:
        """The flat id list: blocks in order, each in slot order, then the head."""
        return [i for block in self.blocks for i in block] + list(self.head)

    def text(self) -> str:
        """Comma-joined ids without spaces (the string that is hashed)."""
        return ",".join(map(str, self.ids()))

    def sha256(self) -> str:
        return hashlib.sha256(self.text().encode()).hexdigest()

    def __str__(self) -> str:
        return self.text()

    @classmethod
    def from_ids(cls, ids: Sequence[int], layout: Layout) -> Assembly:
        """Split a flat id list by the layout (no checks beyond the length; see :func:`validate`)."""
        ids = _ids(ids, "the answer")
        S, D = len(layout.block_slots), layout.depth
        if len(ids) != layout.n_pieces:
            raise PermutationError(f"the answer has {len(ids)} ids, the puzzle has {layout.n_pieces} pieces")
        return cls(tuple(ids[S * k : S * (k + 1)] for k in range(D)), ids[S * D :])

    @classmethod
    def parse(cls, text: str, layout: Layout) -> Assembly:
        """Read ``"3,17,..."`` (spaces and brackets tolerated) and validate it against ``layout``."""
        return validate(cls.from_ids(parse_ids(text), layout), layout)


def parse_ids(text: str) -> list[int]:
    """Ids from ``"3,17,..."``: commas between ids (spaces around them tolerated), plain integers."""
    cleaned = text.strip().strip("[]")
    tokens = [tok.strip() for tok in cleaned.split(",")]
    for tok in tokens:
        if len(tok.split()) > 1:
            raise PermutationError(
                f"answer {text[:40]!r} is not a comma-separated list of integers "
                f"(ids must be separated by commas, not spaces: {tok[:30]!r})"
            )
    out = []
    for tok in tokens:
        if tok == "":
            continue
        if not tok.lstrip("-").isdigit() or len(tok) > 19:
            raise PermutationError(
                f"answer {text[:40]!r} is not a comma-separated list of integers "
                f"({tok[:30]!r} is not an integer piece id)"
            )
        out.append(int(tok))
    return out


def validate(assembly: Assembly, layout: Layout) -> Assembly:
    """Check that ``assembly`` uses every piece once, each in a slot its shape fits."""
    if not isinstance(assembly, Assembly):
        raise PermutationError(f"expected an Assembly, got {type(assembly).__name__}")
    S, D = len(layout.block_slots), layout.depth
    if (
        len(assembly.blocks) != D
        or any(len(b) != S for b in assembly.blocks)
        or len(assembly.head) != len(layout.head_slots)
    ):
        raise PermutationError(
            f"the answer must have {D} blocks of {S} pieces ({', '.join(layout.block_slots)}) and "
            f"{len(layout.head_slots)} head piece(s)"
        )
    ids = assembly.ids()
    n = layout.n_pieces
    if sorted(ids) != list(range(n)):
        outside = [i for i in ids if not 0 <= i < n]
        missing = sorted(set(range(n)) - set(ids))
        seen: set[int] = set()
        dupes = sorted({i for i in ids if i in seen or seen.add(i)})
        where = f"piece id {outside[0]} is out of range; " if outside else ""
        raise PermutationError(
            f"{where}the answer must use each piece 0..{n - 1} once (missing {missing[:8]}, repeated {dupes[:8]})"
        )
    for k, block in enumerate(assembly.blocks):
        for slot, piece in zip(layout.block_slots, block):
            if piece not in layout.pools[slot]:
                raise PermutationError(
                    f"block {k + 1} slot {slot!r} holds piece {piece}, whose shape does not fit that slot"
                )
    for slot, piece in zip(layout.head_slots, assembly.head):
        if piece not in layout.pools[slot]:
            raise PermutationError(f"the head slot {slot!r} holds piece {piece}, whose shape does not fit that slot")
    return assembly


@dataclass(frozen=True)
class Answer:
    """The true assembly where known, else only the SHA-256 of its text (as for the Jane Street puzzle).

    Parameters
    ----------
    sha256
        SHA-256 (hex) of the answer's text.
    ids
        The answer's flat id list, where known.
    """

    sha256: str
    ids: tuple[int, ...] | None = None

    @classmethod
    def of(cls, assembly: Assembly) -> Answer:
        return cls(sha256=assembly.sha256(), ids=tuple(assembly.ids()))

    def assembly(self, layout: Layout) -> Assembly | None:
        return None if self.ids is None else Assembly.from_ids(self.ids, layout)

    def to_json(self) -> dict:
        return {"sha256": self.sha256, "ids": list(self.ids) if self.ids is not None else None}


def save_answer(answer: Answer, path: str | Path) -> Path:
    """Write ``answer`` (or any answer with ``to_json()``: every task's) as JSON to the file ``path``."""
    path = Path(path)
    try:  # never through a symlink
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        raise PuzzleError(
            f"{path}: cannot write it ({exc.strerror}{'; it is a symlink' if os.path.islink(path) else ''})"
        ) from None
    with os.fdopen(fd, "w") as fh:
        fh.write(json.dumps(answer.to_json()) + "\n")
    return path


def read_answer(path: str | Path, parse: Callable[[dict[str, Any]], T], what: str = "answer") -> T | None:
    """The one answer loader, every task's: ``parse`` of the JSON object in the answer file ``path``
    (``answer.json`` inside it where ``path`` is a folder); ``None`` where there is none. Every fault
    is a one-line :class:`PuzzleError` naming the file. The referee's only: never solvers.

    Parameters
    ----------
    path
        The answer file, or the problem folder holding ``answer.json``.
    parse
        Turns the file's JSON object into the task's answer (raising ``ValueError``, ``KeyError``
        or ``TypeError`` where it is not one).
    what
        What the answer is, for messages (``answer``, ``re-synchronisation answer``, ...).
    """
    path = Path(path)
    if path.is_dir():
        path = path / ANSWER_NAME
    if not os.path.lexists(path):
        return None
    data = read_json(path, what)
    try:
        return parse(data)
    except (ValueError, KeyError, TypeError, AttributeError, PuzzleError, PermutationError) as exc:
        raise PuzzleError(f"{path}: not a valid {what} file ({str(exc)[:200]})") from None


def parse_answer(data: dict[str, Any]) -> Answer:
    """A layer-reassembly answer from its JSON object (``ids`` or ``permutation``, and/or ``sha256``):
    ids must be a permutation of integers (floats are refused, not truncated)."""
    ids = data.get("ids", data.get("permutation"))
    if ids is not None:
        if not isinstance(ids, list) or any(isinstance(i, bool) or not isinstance(i, int) for i in ids):
            raise ValueError("'ids' must be a list of integer piece ids (floats are refused, not truncated)")
        if sorted(ids) != list(range(len(ids))):
            raise ValueError(f"'ids' must be a permutation of 0..{len(ids) - 1}")
        answer = Answer(hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest(), tuple(ids))
        if data.get("sha256") not in (None, answer.sha256):
            raise ValueError("sha256 does not match the ids")
        return answer
    sha = str(data["sha256"])
    if len(sha) != 64 or not all(c in "0123456789abcdef" for c in sha):
        raise ValueError("sha256 is not 64 hex digits")
    return Answer(sha256=sha)


def load_answer(path: str | Path) -> Answer | None:
    """A layer-reassembly answer file (``None`` where absent); see :func:`read_answer`."""
    return read_answer(path, parse_answer)
