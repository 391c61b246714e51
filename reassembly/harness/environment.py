"""Where a result was measured: package versions, CPU, threads, git commit."""

from __future__ import annotations

import functools
import os
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

PACKAGES = ("reassembly", "torch", "numpy", "scipy", "pandas")
_REPO = Path(__file__).resolve().parents[2]


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else :func:`platform.processor`)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(_REPO), *args], capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def git_commit() -> str | None:
    """``HEAD`` of the checkout this package runs from, with ``+dirty`` for uncommitted changes."""
    commit = _git("rev-parse", "HEAD")
    if not commit:
        return None
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    return commit + ("+dirty" if dirty else "")


def package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


@functools.lru_cache(maxsize=1)
def environment() -> dict[str, str | int | None]:
    """Facts about this machine and checkout, flat (one ``env.*`` column each in a results row)."""
    info: dict[str, str | int | None] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "git_commit": git_commit(),
    }
    info.update({name: package_version(name) for name in PACKAGES})
    return info
