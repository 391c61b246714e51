"""One solve in its own process, many through a small pool of them.

Each solve gets a fresh process forked from a server that has already imported torch (the
multiprocessing "forkserver" method: no import cost per run, and no fork of a process whose
thread pools are running), a private copy of the solver-visible files and an empty working
directory. The parent enforces the timeout (which covers the solve only, not loading), survives
the worker's crash or garbage on the pipe, and ends the worker's whole process group afterwards.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reassembly import anytime
from reassembly.harness.plan import Run
from reassembly.harness.puzzles import copy_visible

STARTUP_TIMEOUT = 300.0  # seconds to import, load the puzzle and build the solver
KINDS = ("ready", "solved", "error", "unsupported", "query")


@dataclass(frozen=True)
class RunOptions:
    """How every run of a bench is executed. ``imports`` are resolved (:func:`reassembly.harness.plugins.resolve`)."""

    timeout: float | None = 600.0
    imports: tuple[str, ...] = ()
    threads: int | None = None
    startup_timeout: float = STARTUP_TIMEOUT


@dataclass
class Outcome:
    """What came back from one run: status ``solved``, ``timeout``, ``error`` or ``unsupported``,
    the worker's fields (facts and the solver's claims), an error message, wall seconds."""

    status: str
    fields: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    wall_seconds: float = 0.0


class Cancelled(Exception):
    """The bench was interrupted while this run was going; nothing is recorded for it."""


_lock = threading.Lock()
_ctx: Any = None


def context() -> Any:
    """The fork-server context, its server preloading the worker's imports (created once)."""
    global _ctx
    with _lock:
        if _ctx is None:
            _ctx = mp.get_context("forkserver")
            _ctx.set_forkserver_preload(["reassembly.harness.worker"])
        return _ctx


def _kill_group(pid: int | None) -> None:
    if pid:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _stop(proc: Any, grace: float) -> None:
    """Let the worker exit by itself for ``grace`` seconds, then kill its whole process group."""
    proc.join(grace)
    _kill_group(proc.pid)
    proc.join(5)


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


def _receive(conn: Any) -> tuple[str, dict[str, Any]]:
    """One message; anything that is not ``(kind, dict)`` raises ``ValueError``."""
    message = conn.recv()
    if not (isinstance(message, tuple) and len(message) == 2 and message[0] in KINDS and isinstance(message[1], dict)):
        raise ValueError(f"unexpected message {str(message)[:80]!r}")
    return message


def _oracle(run: Run) -> Any:
    """The run's oracle, served from this process (``None`` where its task has none)."""
    from reassembly.tasks import get_task

    task = get_task(run.puzzle.task)
    return task.serve(Path(run.puzzle.path), Path(run.puzzle.answer) if run.puzzle.answer else None) if task.oracle else None


def run_isolated(run: Run, options: RunOptions, cancel: threading.Event | None = None) -> Outcome:
    """Solve ``run`` in a fresh process; never raises for the solver's faults (only
    :class:`Cancelled` when ``cancel`` is set, after stopping the worker). Where the run's task
    has an oracle, this process serves it and the outcome carries its counts."""
    try:
        oracle = _oracle(run)
    except Exception as exc:
        return Outcome("error", {}, f"cannot serve the oracle: {type(exc).__name__}: {exc}")
    outcome = _run(run, options, cancel, oracle)
    if oracle is not None:
        outcome.fields.update(oracle.counts())  # the harness's count, whatever the solver claimed
    return outcome


def _run(run: Run, options: RunOptions, cancel: threading.Event | None, oracle: Any) -> Outcome:
    from reassembly.harness import worker
    from reassembly.harness.oracle_service import answer

    t0 = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix="reassembly-run-"))
    proc = None
    finished = False
    receive = send = replies = reply = None
    try:
        copy_visible(Path(run.puzzle.path), scratch / "puzzle", task=run.puzzle.task)
        (scratch / "work").mkdir()
        payload = {"path": str(scratch / "puzzle"), "cwd": str(scratch / "work"), "task": run.puzzle.task, "solver": run.solver.name,
                   "options": run.solver.options, "imports": tuple(options.imports), "threads": options.threads,
                   "bench_pid": os.getpid(), "environ": {**os.environ, anytime.ENV: str(scratch / "anytime.json")},
                   "timeout": options.timeout}
        ctx = context()
        receive, send = ctx.Pipe(duplex=False)
        if oracle is not None:
            replies, reply = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=worker.main, args=(send, payload, replies), name=f"reassembly-{run.solver.name}")
        proc.start()
        send.close()
        if replies is not None:
            replies.close()
        facts: dict[str, Any] = {}
        phase, limit, t_phase = "startup", options.startup_timeout, time.perf_counter()
        while True:
            left = None if limit is None else max(0.0, limit - (time.perf_counter() - t_phase))
            if not _wait(receive, left, cancel):
                if phase != "solve":
                    return Outcome("error", facts, f"worker did not finish {phase} within {limit:g} s", time.perf_counter() - t0)
                return Outcome("timeout", {**facts, **anytime.collect(scratch / "anytime.json"), "seconds": time.perf_counter() - t_phase},
                               f"no answer within the {limit:g} s timeout", time.perf_counter() - t0)
            try:
                kind, fields = _receive(receive)
            except EOFError:
                proc.join(5)
                code = proc.exitcode
                why = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                return Outcome("error", facts, f"worker died without an answer ({why})", time.perf_counter() - t0)
            except Exception as exc:  # garbage on the pipe: the run fails, the bench goes on
                return Outcome("error", facts, f"malformed message from the solver's process ({type(exc).__name__}: "
                               f"{str(exc)[:120]})", time.perf_counter() - t0)
            if kind == "query":
                if reply is None:
                    return Outcome("error", facts, "the solver's process sent a query, but this task has no oracle",
                                   time.perf_counter() - t0)
                reply.send(answer(oracle, fields))
                continue
            if kind == "ready":  # the timeout covers the solve only
                facts = {**facts, **fields}
                phase, limit, t_phase = "solve", options.timeout, time.perf_counter()
                continue
            finished = True
            error = fields.pop("error", None)
            return Outcome(kind, {**facts, **fields}, None if error is None else str(error), time.perf_counter() - t0)
    finally:
        for conn in (receive, reply):
            if conn is not None:
                conn.close()
        if proc is not None:
            _stop(proc, grace=2.0 if finished else 0.0)
        shutil.rmtree(scratch, ignore_errors=True)


def run_many(runs: Iterable[Run], options: RunOptions, jobs: int = 1, on_start: Callable[[Run], None] | None = None,
             on_done: Callable[[Run, Outcome], None] | None = None) -> None:
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
