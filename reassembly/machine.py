"""The cores this process may use and how many of them are free right now."""

from __future__ import annotations

import os


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, e.g. under ``taskset`` or a container's
    cpuset), else every core."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def free_cores() -> int:
    """Usable cores not already busy, at least one: the one-minute load average, scaled to the
    share of the machine's cores this process may use, taken off :func:`usable_cores`."""
    cores = usable_cores()
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return cores
    busy = load * cores / max(cores, os.cpu_count() or cores)
    return max(1, min(cores, int(cores - busy + 0.5)))
