"""Reading untrusted files: regular files only, weights-only tensors whose memory is bounded by
the bytes actually stored, CSV headers without duplicates. Every fault is a one-line
:class:`~reassembly.errors.PuzzleError` naming the file."""
from __future__ import annotations

import csv
import json
import os
import stat
from collections import Counter
from pathlib import Path
from typing import Any

import torch

from reassembly.errors import PuzzleError

MAX_PIECE_BYTES = 1 << 30  # a piece file larger than 1 GiB is refused before it is read


def regular_file(path: Path, what: str = "file") -> os.stat_result:
    """``os.stat`` of ``path`` (links followed), which must be a regular file (not a FIFO, device
    or directory: reading those can hang or never end)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise PuzzleError(f"{path}: {what} not found") from None
    except OSError as exc:
        raise PuzzleError(f"{path}: cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise PuzzleError(f"{path}: not a regular file (a {_kind(info.st_mode)}); refusing to read it")
    return info


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "directory"), (stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket"),
                       (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device")):
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
        raise PuzzleError(f"{path}: {name!r} is a {str(t.layout).removeprefix('torch.')} tensor; only dense tensors are accepted")
    if t.device.type != "cpu":
        raise PuzzleError(f"{path}: {name!r} lives on {t.device.type!r}, not in memory; only CPU-storable tensors are accepted")
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
        raise PuzzleError(f"{path}: {info.st_size:,} bytes is larger than the {MAX_PIECE_BYTES:,}-byte limit for a {what}")
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
        raise PuzzleError(f"{path}: duplicated column name(s) {', '.join(map(repr, dupes[:5]))}; each column must be named once")
    return header


def read_json(path: Path, what: str) -> dict[str, Any]:
    """A JSON object from an untrusted regular file, or a one-line :class:`PuzzleError`."""
    regular_file(path, what)
    try:
        data = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise PuzzleError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise PuzzleError(f"{path}: expected a JSON object")
    return data
