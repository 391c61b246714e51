"""One solve in its own process, many through a small pool of them.

Each solve gets a fresh process forked from a server that has already imported torch (the
multiprocessing "forkserver" method: no import cost per run, and no fork of a process whose
thread pools are running), a private copy of the solver-visible files and an empty working
directory. The parent enforces the timeout (which covers the solve only, not loading), survives
the worker's crash or garbage on the pipe, and ends the worker and every descendant afterwards
(:mod:`reassembly.harness.reaper`).

What crosses back is JSON lines only (:mod:`reassembly.harness.wire`), every read with a deadline
and a size bound; the parent times the solve itself (from the first ``ready`` to the answer) and
keeps of the solver's message only its answer and a few type-checked, labelled claims
(:mod:`reassembly.harness.claims`).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reassembly import anytime
from reassembly.errors import ReassemblyError
from reassembly.harness import claims, reaper
from reassembly.harness.plan import Run
from reassembly.harness.puzzles import (
    checked_hash,
    content_hash,
    copy_visible,
    fingerprint,
    read_only,
    remove_tree,
    sealed_copy,
)
from reassembly.harness.wire import Channel, WireError

STARTUP_TIMEOUT = 300.0  # seconds to import, load the puzzle and build the solver
KINDS = ("ready", "solved", "error", "unsupported", "query")  # what a solver's process may send


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
    the kept fields (the answer, checked claims, ``seconds`` as this process measured the solve),
    an error message, wall seconds."""

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


def _oracle(run: Run) -> Any:
    """The run's oracle, served from this process (``None`` where its task has none), built from
    a private copy of the stored problem checked against the planned hashes."""
    from reassembly.tasks import get_task

    task = get_task(run.puzzle.task)
    if not task.oracle:
        return None
    tmp = Path(tempfile.mkdtemp(prefix="reassembly-oracle-"))
    try:
        root, answer = sealed_copy(run.puzzle, tmp)
        return task.serve(root, answer)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_isolated(run: Run, options: RunOptions, cancel: threading.Event | None = None) -> Outcome:
    """Solve ``run`` in a fresh process; never raises for the solver's faults (only
    :class:`Cancelled` when ``cancel`` is set, after stopping the worker). Where the run's task
    has an oracle, this process serves it and the outcome carries its counts."""
    reaper.make_subreaper()
    try:
        oracle = _oracle(run)
    except Exception as exc:
        return Outcome("error", {}, f"cannot serve the oracle: {type(exc).__name__}: {str(exc)[:300]}")
    try:
        outcome = _run(run, options, cancel, oracle)
    finally:
        reaper.sweep()  # whatever escaped a solve's process that died first
    if oracle is not None:
        outcome.fields.update(oracle.counts())  # the harness's count, whatever the solver claimed
    return outcome


def _solver_copy(run: Run, dst: Path) -> str | None:
    """Copy the run's solver-visible files to ``dst``, read-only, checked against the hash taken
    when the bench planned; the fault's message where that fails."""
    src, task = Path(run.puzzle.path), run.puzzle.task
    try:
        digest, before = checked_hash(src, task)
        root = copy_visible(src, dst, task=task)
        if fingerprint(src, task) != before:  # touched while copied: judge the copy itself
            digest = content_hash(root, task)
        if digest != run.puzzle.content:
            return f"{run.puzzle.path}: the stored puzzle changed since the bench planned it; refusing to use it"
        read_only(root)
    except (OSError, ReassemblyError) as exc:
        return f"cannot copy the puzzle for the solver: {str(exc)[:300]}"
    return None


def _run(run: Run, options: RunOptions, cancel: threading.Event | None, oracle: Any) -> Outcome:
    from reassembly.harness import worker
    from reassembly.harness.oracle_service import answer
    from reassembly.tasks import get_task

    t0 = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix="reassembly-run-"))
    proc = None
    finished = False
    receive = send = replies = reply = None
    seconds: float | None = None
    answer_fields = get_task(run.puzzle.task).answer_fields

    def outcome(status: str, fields: dict[str, Any], error: str | None) -> Outcome:
        return Outcome(status, {**fields, "seconds": seconds}, error, time.perf_counter() - t0)

    def cancelled() -> None:
        if cancel is not None and cancel.is_set():
            raise Cancelled

    try:
        fault = _solver_copy(run, scratch / "puzzle")
        if fault is not None:
            return outcome("error", {}, fault)
        (scratch / "work").mkdir()
        payload = {
            "path": str(scratch / "puzzle"),
            "cwd": str(scratch / "work"),
            "task": run.puzzle.task,
            "solver": run.solver.name,
            "options": run.solver.options,
            "imports": tuple(options.imports),
            "threads": options.threads,
            "bench_pid": os.getpid(),
            "environ": {**os.environ, anytime.ENV: str(scratch / "anytime.json")},
            "timeout": options.timeout,
        }
        ctx = context()
        receive, send = ctx.Pipe(duplex=False)
        if oracle is not None:
            replies, reply = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=worker.main, args=(send, payload, replies), name=f"reassembly-{run.solver.name}")
        proc.start()
        send.close()
        if replies is not None:
            replies.close()
        channel = Channel(receive.fileno(), KINDS, reply.fileno() if reply is not None else None, proc.sentinel)
        t_solve: float | None = None
        t_start = time.perf_counter()
        while True:
            if t_solve is None:
                limit, phase = options.startup_timeout, "startup"
                left = None if limit is None else limit - (time.perf_counter() - t_start)
            else:
                limit, phase = options.timeout, "solve"
                left = None if limit is None else limit - (time.perf_counter() - t_solve)
            try:
                message = channel.receive(None if left is None else max(0.0, left), cancelled)
            except EOFError:
                if t_solve is not None:
                    seconds = time.perf_counter() - t_solve
                proc.join(5)
                code = proc.exitcode
                why = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                return outcome("error", {}, f"worker died without an answer ({why})")
            except WireError as exc:  # garbage on the pipe: the run fails, the bench goes on
                if t_solve is not None:
                    seconds = time.perf_counter() - t_solve
                return outcome("error", {}, f"malformed message from the solver's process ({str(exc)[:200]})")
            if message is None:
                if t_solve is None:
                    return outcome("error", {}, f"worker did not finish {phase} within {limit:g} s")
                seconds = time.perf_counter() - t_solve
                return outcome(
                    "timeout", anytime.collect(scratch / "anytime.json"), f"no answer within the {limit:g} s timeout"
                )
            kind, fields = message
            if kind == "ready":  # the timeout covers the solve only; a second "ready" changes nothing
                if t_solve is None:
                    t_solve = time.perf_counter()
                continue
            if kind == "query":
                if reply is None:
                    return outcome("error", {}, "the solver's process sent a query, but this task has no oracle")
                try:
                    channel.reply(*answer(oracle, fields))
                except WireError as exc:
                    seconds = None if t_solve is None else time.perf_counter() - t_solve
                    return outcome("error", {}, str(exc))
                continue
            if t_solve is None:
                return outcome("error", {}, f"the solver's process sent {kind!r} before its solve began")
            seconds = time.perf_counter() - t_solve
            finished = True
            try:
                if kind == "solved":
                    return outcome("solved", claims.solved(fields, answer_fields), None)
                kept, error = claims.failed(fields)
                return outcome(kind, kept, error)
            except claims.ClaimError as exc:
                return outcome("error", {}, f"malformed result from the solver: {exc}")
    finally:
        for conn in (receive, reply):
            if conn is not None:
                conn.close()
        if proc is not None:
            _stop(proc, grace=2.0 if finished else 0.0)
        remove_tree(scratch)


def _stop(proc: Any, grace: float) -> None:
    """Let the worker exit by itself for ``grace`` seconds, then kill it and every descendant."""
    if proc.pid is None:  # it never started
        return
    proc.join(grace)
    if proc.pid:
        reaper.kill_tree(proc.pid)
    proc.join(5)


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
