"""The body of one solve's process: what runs on the far side of the pipe.

The process leads a process group of its own, so that a timeout, a crash or the end of the bench
(even ``kill -9`` of it: a watchdog notices the parent is gone) ends the solver and everything it
started. It works in an empty temporary directory, loads the puzzle afresh from a private copy
of the solver-visible files, builds the solver, solves, and sends back what the solver returned
(piece ids, and what it claims about its work). It never sees an answer and never scores.
"""
from __future__ import annotations

import os
import signal
import threading
import time
import traceback
from typing import Any

import torch  # noqa: F401  (preloaded in the fork server: each solve starts with it imported)

import reassembly.loader  # noqa: F401
import reassembly.registry  # noqa: F401
import reassembly.solver  # noqa: F401

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
    """Kill this process group once the bench is gone (it cannot clean up after ``kill -9``)."""
    parent = os.getppid()
    while True:
        time.sleep(WATCH_SECONDS)
        try:
            os.kill(bench_pid, 0)
            alive = os.getppid() == parent
        except OSError:
            alive = False
        if not alive:
            os.killpg(os.getpgid(0), signal.SIGKILL)


def _claims(result: Any) -> dict[str, Any]:
    """What the solver returned, as plain data (ids as given: the referee checks them)."""
    from reassembly.solver import SolveResult

    if not isinstance(result, SolveResult):
        raise TypeError(f"the solver returned a {type(result).__name__}, not a SolveResult")
    assembly = result.assembly
    stages = [{"stage": str(s.stage), "method": str(s.method), "mse": float(s.mse), "evaluations": int(s.evaluations),
               "seconds": float(s.seconds)} for s in result.stages]
    return {"blocks": [list(b) for b in assembly.blocks], "head": list(assembly.head), "evaluations": result.evaluations,
            "trace": stages, "certificate": dict(result.certificate) if result.certificate else None}


def main(conn: Any, payload: dict[str, Any]) -> None:
    """Send ``("ready", facts)``, then ``("solved", claims)``, or ``("error", fields)`` at any point."""
    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the bench's to handle: it stops us
    threading.Thread(target=_watchdog, args=(payload["bench_pid"],), daemon=True).start()
    t_solve: float | None = None
    try:
        os.environ.clear()  # the bench's environment now, not the fork server's when it started
        os.environ.update(payload["environ"])
        os.chdir(payload["cwd"])
        if payload["threads"]:
            torch.set_num_threads(int(payload["threads"]))
        from reassembly.harness.plugins import import_plugins
        from reassembly.loader import load_puzzle
        from reassembly.registry import get_spec

        import_plugins(payload["imports"], resolved=True)
        puzzle = load_puzzle(payload["path"])
        solver = get_spec(payload["solver"]).make(**payload["options"])
        conn.send(("ready", {"depth": puzzle.depth, "rows": puzzle.n_rows, "torch_threads": torch.get_num_threads(),
                             "family": puzzle.family.name, **{k: v for k, v in puzzle.layout.sizes.items()}}))
        t_solve = time.perf_counter()
        result = solver.solve(puzzle)
        seconds = time.perf_counter() - t_solve
        t_solve = None
        conn.send(("solved", {"seconds": seconds, **_claims(result)}))
    except BaseException as exc:  # report everything, even SystemExit from a plugin
        fields = {"seconds": time.perf_counter() - t_solve} if t_solve is not None else {}
        kind = "unsupported" if type(exc).__name__ == "UnsupportedPuzzle" else "error"
        try:
            conn.send((kind, {**fields, "error": error_text(exc) if kind == "error" else str(exc)}))
        except Exception:
            pass
    finally:
        conn.close()
