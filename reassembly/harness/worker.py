"""The body of one solve's process: what runs on the far side of the pipe.

The process leads a session of its own and adopts every descendant that tries to get away
(:mod:`reassembly.harness.reaper`), so that a timeout, a crash or the end of the bench (even
``kill -9`` of it: a watchdog notices the parent is gone) ends the solver and everything it
started. It works in an empty temporary directory, loads the problem afresh from a private copy
of the solver-visible files (through its task), builds the solver, solves, and sends back what
the solver returned, as plain JSON (never a pickle). It never sees an answer and never scores.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import traceback
from typing import Any

import torch  # noqa: F401  (preloaded in the fork server: each solve starts with it imported)

import reassembly.harness.oracle_service  # noqa: F401
import reassembly.loader  # noqa: F401
import reassembly.registry  # noqa: F401
import reassembly.solver  # noqa: F401
import reassembly.tasks.reassembly  # noqa: F401
from reassembly.errors import UnsupportedPuzzle
from reassembly.harness import reaper, wire

WATCH_SECONDS = 0.5


def _preload_builtin_solvers() -> None:
    """Import this package's own solvers once, in the fork server, so each solve starts with them."""
    from reassembly.registry import specs

    for spec in specs().values():
        if spec.source == "built-in":
            try:
                spec.load()
            except Exception:  # reported with the solver's name when it is used
                pass


_preload_builtin_solvers()


def error_text(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"[:2000]


def _watchdog(bench_pid: int) -> None:
    """Kill this process, its group and its descendants once the bench is gone (it cannot clean
    up after ``kill -9``)."""
    parent = os.getppid()
    while True:
        time.sleep(WATCH_SECONDS)
        try:
            os.kill(bench_pid, 0)
            alive = os.getppid() == parent
        except OSError:
            alive = False
        if not alive:
            reaper.kill_tree(os.getpid())


def plain(fields: dict[str, Any]) -> bytes:
    """``fields`` as a message line, or ``TypeError`` naming why it is not plain data."""
    try:
        return wire.encode("solved", fields)
    except (TypeError, ValueError, RecursionError) as exc:
        raise TypeError(f"the solver's result is not plain data ({type(exc).__name__}: {str(exc)[:200]})") from None


def main(conn: Any, payload: dict[str, Any], replies: Any = None) -> None:
    """Send ``["ready", {}]``, then ``["solved", claims]``, or ``["error", fields]`` at any point,
    as JSON lines (:mod:`reassembly.harness.wire`). With ``replies`` (the task has an oracle), the
    problem gets an oracle client whose queries go to the harness on ``conn`` and whose answers
    come back on ``replies``."""
    os.setsid()
    reaper.make_subreaper()  # whatever the solver starts and abandons stays our descendant
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the bench's to handle: it stops us
    threading.Thread(target=_watchdog, args=(payload["bench_pid"],), daemon=True).start()
    fd = conn.fileno()
    t_solve: float | None = None
    try:
        os.environ.clear()  # the bench's environment now, not the fork server's when it started
        os.environ.update(payload["environ"])
        os.chdir(payload["cwd"])
        if payload["threads"]:
            torch.set_num_threads(int(payload["threads"]))
        from pathlib import Path

        from reassembly.harness.plugins import import_plugins
        from reassembly.registry import get_spec
        from reassembly.tasks import get_task

        import_plugins(payload["imports"], resolved=True)
        task = get_task(payload["task"])
        problem = task.load(Path(payload["path"]))
        if replies is not None:
            from reassembly.harness.oracle_service import OracleClient

            problem = task.attach(problem, OracleClient(fd, replies.fileno(), getattr(problem, "budget", None)))
        solver = get_spec(payload["solver"]).make(**payload["options"])
        wire.send(fd, "ready", {}, wire.SEND_LOCK)
        t_solve = time.perf_counter()
        reassembly.solver.set_time_budget(payload.get("timeout"))  # what the referee will wait, for anytime solvers
        result = solver.solve(problem)
        seconds = time.perf_counter() - t_solve
        t_solve = None
        line = plain({"seconds": seconds, **task.claims(result)})
        with wire.SEND_LOCK:
            wire.write_all(fd, line)
    except BaseException as exc:  # report everything, even SystemExit from a plugin
        fields = {"seconds": time.perf_counter() - t_solve} if t_solve is not None else {}
        kind = "unsupported" if isinstance(exc, UnsupportedPuzzle) else "error"
        try:
            wire.send(
                fd, kind, {**fields, "error": error_text(exc) if kind == "error" else str(exc)[:2000]}, wire.SEND_LOCK
            )
        except BaseException:
            pass
    finally:
        conn.close()
