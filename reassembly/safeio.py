"""Reading untrusted files: regular files only, weights-only tensors whose memory is bounded by
the bytes actually stored, CSV headers without duplicates. Every fault is a one-line
:class:`~reassembly.errors.PuzzleError` naming the file."""

from __future__ import annotations

import csv
import json
import os
import re
import stat
from collections import Counter
from pathlib import Path
from typing import Any

import torch

from reassembly.errors import PuzzleError

MAX_PIECE_BYTES = 1 << 30  # a piece file larger than 1 GiB is refused before it is read
MAX_JSON_BYTES = 16 << 20  # a JSON file (spec, answer, metadata) larger than this is refused
MAX_JSON_DEPTH = 32  # nesting of lists and objects in a JSON file
MAX_INT = 1 << 63  # integers in JSON files and options are below this in magnitude
MAX_MESSAGE = 300  # characters of a value quoted in an error message


def regular_file(path: Path, what: str = "file") -> os.stat_result:
    """``os.stat`` of ``path`` (links followed), which must be a regular file (not a FIFO, device
    or directory: reading those can hang or never end)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        if os.path.islink(path):
            raise PuzzleError(f"{path}: {what} is a symlink to nothing (dangling); refusing it") from None
        raise PuzzleError(f"{path}: {what} not found") from None
    except OSError as exc:
        if os.path.islink(path):
            raise PuzzleError(
                f"{path}: {what} is a symlink that cannot be followed ({exc.strerror}); refusing it"
            ) from None
        raise PuzzleError(f"{path}: cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise PuzzleError(f"{path}: not a regular file (a {_kind(info.st_mode)}); refusing to read it")
    return info


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "directory"),
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
    ):
        if test(mode):
            return name
    return "special file"


def check_tensor(t: Any, path: Path, name: str, integer: bool = False) -> torch.Tensor:
    """A dense, CPU-storable floating tensor (an integer one with ``integer``) that owns at least the
    bytes its shape needs (no stride-0 or overlapping views that would blow up when copied), finite
    everywhere."""
    if not isinstance(t, torch.Tensor):
        raise PuzzleError(f"{path}: {name!r} is a {type(t).__name__}, not a tensor")
    if t.layout != torch.strided:
        raise PuzzleError(
            f"{path}: {name!r} is a {str(t.layout).removeprefix('torch.')} tensor; only dense tensors are accepted"
        )
    if t.device.type != "cpu":
        raise PuzzleError(
            f"{path}: {name!r} lives on {t.device.type!r}, not in memory; only CPU-storable tensors are accepted"
        )
    if integer:
        if t.is_quantized or t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
            raise PuzzleError(f"{path}: {name!r} must be an integer tensor, got {t.dtype}")
    elif t.is_quantized or not t.is_floating_point() or t.is_complex():
        raise PuzzleError(f"{path}: {name!r} must be a floating-point tensor, got {t.dtype}")
    need = t.numel() * t.element_size()
    held = t.untyped_storage().nbytes()
    if need > held:
        raise PuzzleError(
            f"{path}: {name!r} of shape {tuple(t.shape)} would need {need:,} bytes but the file stores {held:,} "
            "(a repeating view); refusing it"
        )
    if not integer and not bool(torch.isfinite(t).all()):
        raise PuzzleError(f"{path}: {name!r} contains NaN or inf")
    return t.detach().clone()


def load_state(path: Path, what: str = "piece file", integers: tuple[str, ...] = ()) -> dict[str, torch.Tensor]:
    """A weights-only ``torch.load`` of a regular file of bounded size into a ``{name: tensor}`` dict
    (floating tensors, except the names in ``integers``)."""
    info = regular_file(path, what)
    if info.st_size > MAX_PIECE_BYTES:
        raise PuzzleError(
            f"{path}: {info.st_size:,} bytes is larger than the {MAX_PIECE_BYTES:,}-byte limit for a {what}"
        )
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as exc:  # torch raises many types for corrupt or unsafe files
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise PuzzleError(f"{path}: cannot be read as a weights-only PyTorch file ({reason})") from None
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        raise PuzzleError(f"{path}: expected a state dict of named tensors, found {type(state).__name__}")
    return {k: check_tensor(v, path, k, k in integers) for k, v in state.items()}


def csv_header(path: Path) -> list[str]:
    """The header row of a CSV file, refusing duplicated column names (pandas would rename them)."""
    regular_file(path, "data file")
    try:
        with path.open(newline="") as fh:
            header = next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise PuzzleError(f"{path}: cannot be read as CSV ({exc})") from None
    dupes = sorted(name for name, k in Counter(header).items() if k > 1)
    if dupes:
        raise PuzzleError(
            f"{path}: duplicated column name(s) {', '.join(map(repr, dupes[:5]))}; each column must be named once"
        )
    return header


def short(value: Any, limit: int = MAX_MESSAGE) -> str:
    """``repr(value)`` cut to ``limit`` characters (an error line quotes at most this much)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text):,} characters)"


def _int(text: str) -> int:
    if len(text.lstrip("-")) > 19 or not -MAX_INT < int(text) < MAX_INT:
        raise ValueError(f"the integer {text[:20]}... ({len(text)} digits) is out of range")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"the number {text[:20]}{'...' if len(text) > 20 else ''} is out of range")
    return value


def _constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


_STRINGS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))


def json_depth(data: bytes) -> int:
    """Deepest nesting of ``[``/``{`` in a JSON text (strings skipped), without recursion."""
    import numpy as np

    brackets = _STRINGS.sub(b"", data).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    codes = np.frombuffer(brackets, dtype=np.uint8)
    return int(np.cumsum(np.where((codes == 0x5B) | (codes == 0x7B), 1, -1)).max())


def loads(text: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` for untrusted text: nesting at most ``max_depth``, integers below 2**63,
    floats finite; ``ValueError`` with a short reason otherwise (never ``RecursionError``)."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if json_depth(data) > max_depth:
        raise ValueError(f"nested deeper than {max_depth} levels")
    try:
        return json.loads(data, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except RecursionError:
        raise ValueError(f"nested deeper than {max_depth} levels") from None


def read_json(path: Path, what: str) -> dict[str, Any]:
    """A JSON object from an untrusted regular file (bounded size and depth, numbers in range), or
    a one-line :class:`PuzzleError`."""
    info = regular_file(path, what)
    if info.st_size > MAX_JSON_BYTES:
        raise PuzzleError(
            f"{path}: {info.st_size:,} bytes is larger than the {MAX_JSON_BYTES:,}-byte limit for a {what}"
        )
    try:
        data = loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise PuzzleError(f"{path}: not valid JSON ({str(exc)[:MAX_MESSAGE]})") from None
    except OSError as exc:
        raise PuzzleError(f"{path}: cannot be read ({exc.strerror})") from None
    if not isinstance(data, dict):
        raise PuzzleError(f"{path}: expected a JSON object")
    return data
