"""What every command shares: consoles, the one-line error contract, strict JSON, option parsing."""

from __future__ import annotations

import functools
import json
import math
import os
import sys
from collections.abc import Callable
from typing import Any

import typer

from reassembly.errors import ReassemblyError, SolverError

err_console_kwargs = {"stderr": True, "highlight": False, "soft_wrap": True}


def console(stderr: bool = False) -> Console:  # noqa: F821
    """A rich console; when output is not a terminal and ``COLUMNS`` is unset, wide enough that
    tables do not wrap (a terminal's, or ``COLUMNS``, width is honoured)."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    wide = not stream.isatty() and "COLUMNS" not in os.environ
    return Console(stderr=stderr, width=160 if wide else None, highlight=False)


MAX_ERROR = 1000  # characters of an error line (its start names the file)


def one_line(message: str, limit: int = MAX_ERROR) -> str:
    """``message`` on one line, cut to ``limit`` characters (the start, which names the file, stays)."""
    text = " ".join(str(message).split())
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters in all)"


def fail(message: str, code: int = 2) -> None:
    """Print ``error: message`` (one line, bounded) on stderr and exit with ``code``."""
    console(stderr=True).print(f"[bold red]error:[/] {one_line(message)}", soft_wrap=True, markup=True)
    raise typer.Exit(code)


def friendly(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a :class:`ReassemblyError` (or an ``OSError`` on a file) into a one-line message and exit status 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ReassemblyError as exc:
            fail(one_line(str(exc)).replace("[", "\\["))
        except OSError as exc:  # a file the command cannot read or write (permissions, a folder, a full disk)
            where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
            fail(one_line(f"{where}{exc.strerror or exc}").replace("[", "\\["))

    return wrapper


def output_file(path: Any, flag: str) -> Any:
    """``path`` where a command may write a file: not a folder, not a symlink; its folder is made
    where missing (a folder the command creates is its own)."""
    from pathlib import Path

    from reassembly.errors import ConfigError

    p = Path(path)
    if p.is_symlink():
        raise ConfigError(f"{flag} {p}: is a symlink; refusing to write through it")
    if p.exists() and not p.is_file():
        raise ConfigError(f"{flag} {p}: exists and is not a regular file (a folder?); give a file name")
    if not p.parent.is_dir():
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"{flag} {p}: cannot make folder {p.parent} ({exc.strerror or exc})") from None
    if not os.access(p.parent, os.W_OK):
        raise ConfigError(f"{flag} {p}: folder {p.parent} is not writable")
    return p


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def strict_json(payload: Any) -> str:
    """JSON that strict parsers accept: NaN and infinities become ``null``."""
    return json.dumps(_finite(payload), default=str, allow_nan=False)


def parse_value(text: str) -> Any:
    """A command-line option value: JSON where it parses (numbers, lists, true/false/null), else the
    string; a number out of range (over 2**63, or overflowing a float) is a :class:`SolverError`."""
    from reassembly.safeio import loads

    try:
        json.loads(text, parse_int=str, parse_float=str, parse_constant=str)
    except (json.JSONDecodeError, RecursionError):
        return text
    try:
        return loads(text)
    except ValueError as exc:
        raise SolverError(f"option value {one_line(text, 40)!r}: {exc}") from None


def parse_options(pairs: list[str] | None) -> dict[str, Any]:
    """``["rows=500", "search__patience=20"]`` → ``{"rows": 500, "search__patience": 20}``."""
    out: dict[str, Any] = {}
    for item in pairs or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SolverError(f"solver option {item!r} must look like NAME=VALUE")
        out[key.strip().replace("-", "_")] = parse_value(value.strip())
    return out


def set_threads(threads: int | None) -> None:
    """Torch threads for this process (``None``: one per usable core not already busy, see
    :func:`reassembly.machine.free_cores`)."""
    import torch

    if threads is not None:
        if threads < 1:
            raise SolverError(f"--threads must be >= 1, got {threads}")
        torch.set_num_threads(threads)
        return
    from reassembly.machine import free_cores

    torch.set_num_threads(free_cores())
