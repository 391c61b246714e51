"""Anytime answers: a solver may report its best answer so far while it works.

Under a bench, each solve's process finds in ``$REASSEMBLY_ANYTIME`` the file its run's last
reported answer goes to; :func:`report` writes the answer there as plain JSON (the same claims a
finished solve sends back, atomically replaced). Where the solve runs out of time, the harness
reads that file and the referee judges it exactly as it judges a final answer (strict validation,
its own copy of the puzzle); the row stays ``timeout``, with the answer's scores. Outside a bench
(``reassembly solve``, a notebook) :func:`report` does nothing, so solvers call it freely.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reassembly.atomic import atomic_write

ENV = "REASSEMBLY_ANYTIME"
MAX_BYTES = 64 << 20  # an anytime answer larger than this is not read


def target() -> Path | None:
    """Where this process's anytime answers go (``None``: not under a bench)."""
    path = os.environ.get(ENV)
    return Path(path) if path else None


def report(result: Any, task: str = "reassembly") -> bool:
    """Record ``result`` as this solve's best answer so far; ``False`` where nothing records it.

    Parameters
    ----------
    result
        What the solver's ``solve`` would return now (a :class:`~reassembly.solver.SolveResult`
        for layer reassembly).
    task
        The task whose ``claims`` turn ``result`` into plain data.
    """
    path = target()
    if path is None:
        return False
    from reassembly.tasks import get_task

    text = json.dumps(get_task(task).claims(result), default=str)
    atomic_write(path, text, durable=False)
    return True


class Reporter:
    """Reports an answer each time a loss improves on the best reported so far (a no-op outside a bench).

    Parameters
    ----------
    build
        Turns what :meth:`offer` is given into the answer to report (called only when it is reported).
    task
        The task of the answers (see :func:`report`).
    """

    def __init__(self, build: Callable[[Any], Any], task: str = "reassembly") -> None:
        self.build = build
        self.task = task
        self.best = math.inf
        self.active = target() is not None

    def offer(self, state: Any, loss: float | None = None) -> None:
        """Report ``build(state)`` where ``loss`` is below the best so far (always where ``loss`` is ``None``).

        Parameters
        ----------
        state
            What the solver holds now (e.g. an arrangement tensor).
        loss
            Its loss, comparable between offers; ``None`` where it is not known.
        """
        if not self.active or (loss is not None and not loss < self.best):
            return
        if loss is not None:
            self.best = loss
        report(self.build(state), self.task)


def read(path: Path) -> dict[str, Any] | None:
    """The last answer reported at ``path`` as a JSON object (``None`` where none was reported).
    It is still only a claim: the referee validates it.

    Parameters
    ----------
    path
        The run's anytime-answer file.

    Raises
    ------
    ValueError
        Where something is there but is not a readable JSON object of at most :data:`MAX_BYTES`.
    """
    if not path.exists():
        return None
    try:
        if not path.is_file() or path.stat().st_size > MAX_BYTES:
            raise ValueError(f"not a regular file of at most {MAX_BYTES} bytes")
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"unreadable ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise ValueError(f"a JSON {type(data).__name__}, not an object")
    return data


def collect(path: Path) -> dict[str, Any]:
    """Fields for a timed-out run's outcome: ``anytime`` (the claims) or ``anytime_error`` (why
    what was reported cannot be read); empty where nothing was reported.

    Parameters
    ----------
    path
        The run's anytime-answer file.
    """
    try:
        claims = read(path)
    except ValueError as exc:
        return {"anytime_error": f"its last reported answer is {exc}"}
    return {} if claims is None else {"anytime": claims}
