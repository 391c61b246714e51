"""The answer format: ``inp_1,out_1,...,inp_D,out_D,last`` as piece ids, and its SHA-256."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Sequence

from reassembly.errors import PermutationError
from reassembly.puzzle import PieceRoles


def format_permutation(permutation: Sequence[int]) -> str:
    """Comma-joined piece ids without spaces (the string Jane Street hashes)."""
    return ",".join(str(int(i)) for i in permutation)


def parse_permutation(text: str) -> list[int]:
    """Parse ``"3,17,..."`` (spaces and brackets tolerated) into piece ids."""
    cleaned = text.strip().strip("[]")
    try:
        return [int(tok) for tok in cleaned.replace(" ", "").split(",") if tok != ""]
    except ValueError as exc:
        raise PermutationError(f"permutation {text[:60]!r} is not a comma-separated list of integers") from exc


def permutation_sha256(permutation: Sequence[int]) -> str:
    """SHA-256 hex digest of the comma-joined permutation."""
    return hashlib.sha256(format_permutation(permutation).encode()).hexdigest()


@dataclass(frozen=True)
class Assembly:
    """A permutation read as blocks: ``blocks[k] = (inp_id, out_id)`` in network order, then ``last``."""

    blocks: tuple[tuple[int, int], ...]
    last: int

    def permutation(self) -> list[int]:
        return [i for pair in self.blocks for i in pair] + [self.last]

    @property
    def pairs(self) -> frozenset[tuple[int, int]]:
        return frozenset(self.blocks)

    @classmethod
    def from_permutation(cls, permutation: Sequence[int], roles: PieceRoles) -> "Assembly":
        """Validate ``permutation`` against the piece roles and split it into blocks."""
        perm = [int(i) for i in permutation]
        n = 2 * len(roles.inputs) + 1
        if len(perm) != n:
            raise PermutationError(f"permutation has {len(perm)} ids, the puzzle has {n} pieces")
        if sorted(perm) != list(range(n)):
            missing = sorted(set(range(n)) - set(perm))
            dupes = sorted({i for i in perm if perm.count(i) > 1})
            raise PermutationError(
                f"permutation must use each piece 0..{n - 1} once (missing {missing[:8]}, repeated {dupes[:8]})"
            )
        inputs, outputs = set(roles.inputs), set(roles.outputs)
        for k in range(len(roles.inputs)):
            a, b = perm[2 * k], perm[2 * k + 1]
            if a not in inputs:
                raise PermutationError(f"position {2 * k} (block {k + 1} input) holds piece {a}, not an input projection")
            if b not in outputs:
                raise PermutationError(f"position {2 * k + 1} (block {k + 1} output) holds piece {b}, not an output projection")
        if perm[-1] != roles.last:
            raise PermutationError(f"the last position holds piece {perm[-1]}, the last layer is piece {roles.last}")
        return cls(blocks=tuple((perm[2 * k], perm[2 * k + 1]) for k in range(len(roles.inputs))), last=perm[-1])
