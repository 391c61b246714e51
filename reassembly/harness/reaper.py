"""Ending every process a solve started, whatever it did to get away (Linux).

A solve's process makes itself a *child subreaper* (``prctl(PR_SET_CHILD_SUBREAPER)``) before any
solver code runs, so a descendant that daemonises (double fork, ``setsid``, ``setpgid``) is
re-parented to it rather than to ``init``: the whole tree stays reachable through the parent
links in ``/proc``. The bench's process is a subreaper too, so what escapes a solve's process that
died first is re-parented to the bench, where :func:`sweep` finds it: a child of the bench in
another session can only be a solver's (every solve's process starts with ``setsid``). Elsewhere
than Linux these functions fall back to process groups.
"""

from __future__ import annotations

import ctypes
import os
import signal
import time
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
ROUNDS = 20  # kill passes (a descendant forking while it is being killed needs another pass)
_subreaper: set[int] = set()  # the pids (this one, after a fork) that made themselves subreapers


def make_subreaper() -> bool:
    """Make this process adopt its orphaned descendants; ``False`` where the system cannot."""
    if os.getpid() in _subreaper:
        return True
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        ok = libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        ok = False
    if ok:
        _subreaper.add(os.getpid())
    return ok


def _stat(pid: int) -> tuple[int, int] | None:
    """``(parent pid, session id)`` of ``pid`` from ``/proc`` (``None`` once it is gone)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = text.rsplit(b")", 1)[-1].split()
    try:
        return int(fields[1]), int(fields[3])
    except (IndexError, ValueError):
        return None


def processes() -> dict[int, tuple[int, int]]:
    """Every visible process: ``{pid: (parent pid, session id)}`` (empty without ``/proc``)."""
    out: dict[int, tuple[int, int]] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return out
    for name in names:
        if name.isdigit():
            info = _stat(int(name))
            if info is not None:
                out[int(name)] = info
    return out


def descendants(pid: int, table: dict[int, tuple[int, int]] | None = None) -> list[int]:
    """Every descendant of ``pid`` (children first)."""
    table = processes() if table is None else table
    children: dict[int, list[int]] = {}
    for child, (parent, _) in table.items():
        children.setdefault(parent, []).append(child)
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), ()):
            out.append(child)
            todo.append(child)
    return out


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid``'s process group, ``pid`` and all its descendants, until none is left."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for _ in range(ROUNDS):
        found = descendants(pid)
        for child in found:
            _kill(child)
        if not found:
            break
    _kill(pid)


def orphans() -> list[int]:
    """Children of this process in another session: escaped descendants of a solve."""
    me, session = os.getpid(), os.getsid(0)
    return [pid for pid, (parent, sid) in processes().items() if parent == me and sid != session]


def sweep() -> int:
    """Kill and reap every escaped descendant of a solve adopted by this process; how many."""
    if os.getpid() not in _subreaper:
        return 0
    count = 0
    for _ in range(ROUNDS):
        found = orphans()
        if not found:
            break
        for pid in found:
            kill_tree(pid)
            _reap(pid)
            count += 1
    return count


def _reap(pid: int, seconds: float = 2.0) -> None:
    """Collect a killed child's exit status (it leaves no zombie), waiting at most ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] or time.monotonic() > deadline:
                return
        except ChildProcessError:
            return
        time.sleep(0.005)
