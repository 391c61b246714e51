"""The solver protocol: configuration in ``__init__``, all work in ``solve(puzzle)``."""
from __future__ import annotations

import inspect
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

from reassembly.puzzle import Puzzle


@dataclass
class StageReport:
    """What one stage (pairing, seed, ranking, repair, ...) did."""

    stage: str
    method: str
    mse: float = float("nan")
    rounds: int = 0
    swaps: int = 0
    evaluations: int = 0
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class SolveResult:
    """A solver's answer (Jane Street permutation format) and how it got there."""

    permutation: list[int]
    stages: list[StageReport] = field(default_factory=list)
    seconds: float = 0.0
    certificate: dict[str, Any] | None = None

    @property
    def evaluations(self) -> int:
        return sum(s.evaluations for s in self.stages)

    def to_json(self) -> dict[str, Any]:
        return {
            "permutation": list(self.permutation),
            "seconds": self.seconds,
            "evaluations": self.evaluations,
            "stages": [asdict(s) for s in self.stages],
            "certificate": self.certificate,
        }


@runtime_checkable
class Solver(Protocol):
    """Anything with ``solve(puzzle) -> SolveResult`` and ``get_params() -> dict``."""

    def solve(self, puzzle: Puzzle) -> SolveResult: ...

    def get_params(self) -> dict[str, Any]: ...


class BaseSolver:
    """scikit-learn-style base: ``__init__`` stores options only, ``get_params`` reads them back."""

    def get_params(self) -> dict[str, Any]:
        """Constructor options of this class and its bases (a subclass may pass ``**kwargs`` on)."""
        names: dict[str, None] = {}
        for cls in type(self).__mro__:
            if "__init__" in cls.__dict__ and cls is not object:
                for n, p in inspect.signature(cls.__init__).parameters.items():
                    if n != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                        names.setdefault(n)
        return {n: getattr(self, n) for n in names if hasattr(self, n)}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def solve(self, puzzle: Puzzle) -> SolveResult:  # pragma: no cover - abstract
        raise NotImplementedError
