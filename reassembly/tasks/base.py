"""Task families: what a solver is given, what it returns, and how the referee judges it.

A task ties together the files of one problem (what a solver may see, and the answer kept apart),
the object a solver's ``solve`` receives, the plain data sent back from the solver's process (its
*claims*: only what it returned), and the referee's judgement of those claims on the referee's own
copy of the problem. The harness runs every task the same way (isolation, timeouts, rows,
resume, reports); layer reassembly is the first task.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Column:
    """A task metric as reports show it: the row column, its header, how runs are aggregated
    (``mean``, ``median``, ``max`` or ``sum``) and the number format."""

    name: str
    label: str
    how: str = "mean"
    fmt: str = ".3f"


class Task:
    """The interface every task implements (see :class:`reassembly.tasks.reassembly.ReassemblyTask`)."""

    name: str = ""
    description: str = ""
    #: Task metrics that results rows keep (besides the generic ones: exact, seconds, ...) and how
    #: reports show them; empty for layer reassembly, whose columns the reports know already.
    columns: tuple[Column, ...] = ()
    #: Further task metrics kept in rows but not shown in the summary table.
    metrics: tuple[str, ...] = ()
    #: Whether solves get an oracle served by the harness (``query(X) -> outputs``, counted there).
    oracle: bool = False
    #: The fields of :meth:`claims` that hold the answer (the referee keeps only these, plus the
    #: type-checked ``evaluations``, ``trace``, ``certificate`` and the solver's own time).
    answer_fields: tuple[str, ...] = ()

    def visible_files(self, root: Path) -> list[str]:
        """Relative paths, under a problem directory, of everything a solver may see."""
        raise NotImplementedError

    def load(self, root: Path) -> Any:
        """The object a solver's ``solve`` receives, loaded from the solver-visible files only."""
        raise NotImplementedError

    def facts(self, problem: Any) -> dict[str, Any]:
        """Plain facts of a loaded problem for its results row (sizes, depth, rows, ...)."""
        return {}

    def prepared_facts(self, prepared: Any) -> dict[str, Any] | None:
        """:meth:`facts` from the referee's prepared copy, where it holds them (``None``: the
        referee loads the problem once more to read them)."""
        return None

    def claims(self, result: Any) -> dict[str, Any]:
        """What a solver returned, as plain data (checked by the referee, never trusted)."""
        raise NotImplementedError

    def prepare(self, root: Path, answer: Path | None) -> Any:
        """The referee's own copy of a problem and its answer (loaded before any solver runs)."""
        raise NotImplementedError

    def serve(self, root: Path, answer: Path | None) -> Any:
        """For tasks with an oracle: the :class:`~reassembly.query.oracle.Oracle` of a stored
        problem (built by the harness, outside the solver's process, from what only it can read)."""
        raise NotImplementedError

    def attach(self, problem: Any, oracle: Any) -> Any:
        """``problem`` with ``oracle`` (the solver's end of the harness's oracle) attached."""
        return problem

    def judge(self, prepared: Any, claims: dict[str, Any]) -> dict[str, Any]:
        """Metrics of the claimed answer; raises :class:`~reassembly.errors.PermutationError` where
        it is not a valid answer. Must include ``exact`` (the task's notion of a full success)."""
        raise NotImplementedError
