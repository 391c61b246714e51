"""One solve in its own process (multiprocessing "spawn"): the parent enforces the timeout and
survives the worker's crash; many runs go through a small pool of such workers.

Forking after torch has started its thread pools can deadlock, so workers are spawned. A worker
loads the puzzle, builds the solver, reports "ready" (the timeout starts then), solves, and only
after the solver has returned reads the answer and scores the permutation.
"""
from __future__ import annotations

import multiprocessing as mp
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from reassembly.harness.plan import Run

STARTUP_TIMEOUT = 300.0  # seconds to import, load the puzzle and build the solver (and to score)


@dataclass(frozen=True)
class RunOptions:
    """How every run of a bench is executed."""

    timeout: float | None = 600.0
    imports: tuple[str, ...] = ()
    threads: int | None = None  # torch threads per worker (None: torch's default)
    startup_timeout: float = STARTUP_TIMEOUT


@dataclass
class Outcome:
    """What came back from one run: status ``ok``, ``timeout`` or ``error`` and the worker's fields."""

    status: str
    fields: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    wall_seconds: float = 0.0


def _error_text(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _worker(conn: Any, payload: dict[str, Any]) -> None:
    """Worker process body; sends ``("ready", facts)``, ``("solved", result)``, ``("ok", metrics)``,
    or ``("error", fields)`` at any point."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops us
    t_solve: float | None = None
    try:
        import torch

        if payload["threads"]:
            torch.set_num_threads(int(payload["threads"]))
        from reassembly.answer import Answer, load_answer
        from reassembly.harness.plugins import import_plugins
        from reassembly.loader import load_puzzle
        from reassembly.permutation import format_permutation
        from reassembly.registry import get_solver
        from reassembly.scoring import score  # imported before the clock starts (scipy is slow to import)

        import_plugins(payload["imports"])
        puzzle = load_puzzle(payload["path"])
        solver = get_solver(payload["solver"], **payload["options"])
        arch = puzzle.architecture
        conn.send(("ready", {"depth": arch.depth, "width": arch.input_dim, "hidden": arch.hidden_dim,
                             "rows": puzzle.n_rows, "torch_threads": torch.get_num_threads()}))
        t_solve = time.perf_counter()
        result = solver.solve(puzzle)
        seconds = time.perf_counter() - t_solve
        t_solve = None
        conn.send(("solved", {"seconds": seconds, "evaluations": result.evaluations,
                              "permutation": format_permutation(result.permutation)}))
        answer = Answer(sha256=payload["answer_sha256"]) if payload["answer_sha256"] else load_answer(payload["path"])
        conn.send(("ok", score(puzzle, result.permutation, answer).as_dict()))
    except BaseException as exc:  # report everything, even SystemExit from a plugin
        fields = {"seconds": time.perf_counter() - t_solve} if t_solve is not None else {}
        try:
            conn.send(("error", {**fields, "error": _error_text(exc)}))
        except Exception:
            pass
    finally:
        conn.close()


def _stop(proc: Any, grace: float) -> None:
    """Let the worker exit by itself for ``grace`` seconds, then terminate, then kill."""
    proc.join(grace)
    if proc.is_alive():
        proc.terminate()
        proc.join(5)
    if proc.is_alive():
        proc.kill()
        proc.join(5)


class Cancelled(Exception):
    """The bench was interrupted while this run was going; nothing is recorded for it."""


def _wait(conn: Any, limit: float | None, cancel: threading.Event | None) -> bool:
    """``conn.poll(limit)`` in short slices, raising :class:`Cancelled` when ``cancel`` is set."""
    deadline = None if limit is None else time.perf_counter() + limit
    while True:
        if cancel is not None and cancel.is_set():
            raise Cancelled
        left = None if deadline is None else deadline - time.perf_counter()
        if left is not None and left <= 0:
            return conn.poll(0)
        if conn.poll(0.25 if left is None else min(0.25, left)):
            return True


def run_isolated(run: Run, options: RunOptions, cancel: threading.Event | None = None) -> Outcome:
    """Solve ``run`` in a fresh spawned process; never raises for the solver's faults
    (only :class:`Cancelled` when ``cancel`` is set, after stopping the worker)."""
    ctx = mp.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    payload = {
        "path": run.puzzle.path, "solver": run.solver.name, "options": run.solver.options,
        "answer_sha256": run.puzzle.answer_sha256, "imports": tuple(options.imports), "threads": options.threads,
    }
    t0 = time.perf_counter()
    proc = ctx.Process(target=_worker, args=(send, payload), name=f"reassembly-{run.solver.name}")
    proc.start()
    send.close()
    facts: dict[str, Any] = {}
    finished = False
    try:
        phase, limit = "startup", options.startup_timeout
        t_phase = time.perf_counter()
        while True:
            if not _wait(receive, limit, cancel):
                elapsed = time.perf_counter() - t_phase
                if phase != "solve":
                    return Outcome("error", facts, f"worker did not finish {phase} within {limit:g} s", time.perf_counter() - t0)
                return Outcome("timeout", {**facts, "seconds": elapsed},
                               f"no answer within the {limit:g} s timeout", time.perf_counter() - t0)
            try:
                kind, fields = receive.recv()
            except EOFError:
                proc.join(5)
                code = proc.exitcode
                why = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                return Outcome("error", facts, f"worker died without an answer ({why})", time.perf_counter() - t0)
            if kind in ("ready", "solved"):  # the timeout covers the solve only, not loading or scoring
                facts = {**facts, **fields}
                phase, limit = ("solve", options.timeout) if kind == "ready" else ("score", options.startup_timeout)
                t_phase = time.perf_counter()
                continue
            error = fields.pop("error", None)
            finished = True
            return Outcome(kind, {**facts, **fields}, error, time.perf_counter() - t0)
    finally:
        receive.close()
        _stop(proc, grace=2.0 if finished else 0.0)


def run_many(
    runs: Iterable[Run],
    options: RunOptions,
    jobs: int = 1,
    on_start: Callable[[Run], None] | None = None,
    on_done: Callable[[Run, Outcome], None] | None = None,
) -> None:
    """Run ``runs`` with at most ``jobs`` workers at a time; ``on_done`` is called in this thread."""
    runs = list(runs)
    cancel = threading.Event()

    def one(run: Run) -> Outcome:
        if cancel.is_set():
            raise Cancelled
        if on_start:
            on_start(run)
        return run_isolated(run, options, cancel)

    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="reassembly-run") as pool:
        futures = {pool.submit(one, run): run for run in runs}
        try:
            for future in as_completed(futures):
                if on_done:
                    on_done(futures[future], future.result())
        except BaseException:  # Ctrl-C or a failing callback: stop every worker, record nothing more
            cancel.set()
            for f in futures:
                f.cancel()
            raise
