"""Messages between the referee and a solver's process: plain JSON, one per line, size- and
depth-bounded, read with a deadline. Nothing is ever unpickled on the referee's side.

A message is the line ``[kind, fields]\\n`` where ``fields`` is a JSON object. Arrays (oracle
queries and replies) travel as ``{"__array__": "<f8", "shape": [...], "data": base64}`` and are
rebuilt with :func:`numpy.frombuffer`, which reads bytes and runs nothing.
"""

from __future__ import annotations

import base64
import json
import os
import select
import threading
import time
from typing import Any

import numpy as np

from reassembly.safeio import json_depth as depth

MAX_MESSAGE = 256 << 20  # bytes in one message (a larger one ends the run as an error)
MAX_PENDING = 256 << 20  # bytes of replies a solver may leave unread before its run is ended
MAX_DEPTH = 32  # nesting of lists and objects in one message
CHUNK = 1 << 20
SLICE = 0.25  # seconds between checks for cancellation while waiting

SEND_LOCK = threading.Lock()  # one writer at a time on the solver's side (oracle queries come from any thread)


class WireError(ValueError):
    """A message that is not a well-formed, bounded ``[kind, fields]`` line."""


def encode_array(a: Any) -> dict[str, Any]:
    """A float64 array as plain JSON data."""
    arr = np.ascontiguousarray(np.asarray(a, dtype="<f8"))
    return {"__array__": "<f8", "shape": list(arr.shape), "data": base64.b64encode(arr.tobytes()).decode("ascii")}


def decode_array(obj: Any, what: str = "array") -> np.ndarray:
    """The float64 array of :func:`encode_array`'s output; :class:`WireError` where it is not one."""
    if not (
        isinstance(obj, dict)
        and obj.get("__array__") == "<f8"
        and isinstance(obj.get("data"), str)
        and isinstance(obj.get("shape"), list)
        and all(type(n) is int and 0 <= n for n in obj["shape"])
        and len(obj["shape"]) <= 4
    ):
        raise WireError(f"{what}: not an encoded float64 array")
    try:
        raw = base64.b64decode(obj["data"], validate=True)
    except ValueError:
        raise WireError(f"{what}: bad base64 data") from None
    count = int(np.prod(obj["shape"], dtype=np.int64)) if obj["shape"] else 1
    if count * 8 != len(raw):
        raise WireError(f"{what}: {len(raw)} bytes do not make shape {tuple(obj['shape'])}")
    return np.frombuffer(raw, dtype="<f8").reshape(obj["shape"]).copy()


def scalar(obj: Any) -> Any:
    """A NumPy or PyTorch scalar as its Python number (``json.dumps``'s ``default``); anything else
    (a set, an object) is refused with ``TypeError``."""
    if getattr(obj, "ndim", None) == 0 and hasattr(obj, "item"):
        value = obj.item()
        if isinstance(value, (bool, int, float)):
            return value
    raise TypeError(f"a {type(obj).__name__} is not plain data")


def encode(kind: str, fields: dict[str, Any]) -> bytes:
    """The line for one message (``ValueError``/``TypeError`` where ``fields`` is not plain data)."""
    return json.dumps([kind, fields], separators=(",", ":"), default=scalar).encode("ascii") + b"\n"


def decode(line: bytes, kinds: tuple[str, ...]) -> tuple[str, dict[str, Any]]:
    """``(kind, fields)`` of one line, checked for size, depth and shape."""
    if len(line) > MAX_MESSAGE:
        raise WireError(f"a message of {len(line):,} bytes is over the {MAX_MESSAGE:,}-byte limit")
    if depth(line) > MAX_DEPTH:
        raise WireError(f"a message nested deeper than {MAX_DEPTH} levels")
    try:
        message = json.loads(line)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise WireError(f"not JSON ({str(exc)[:80]})") from None
    if not (isinstance(message, list) and len(message) == 2 and message[0] in kinds and isinstance(message[1], dict)):
        raise WireError(f"unexpected message {line[:80]!r}")
    return message[0], message[1]


def send(fd: int, kind: str, fields: dict[str, Any], lock: threading.Lock | None = None) -> None:
    """Write one message to ``fd`` (blocking; the solver's side)."""
    data = encode(kind, fields)
    if lock is None:
        write_all(fd, data)
    else:
        with lock:
            write_all(fd, data)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class Channel:
    """The referee's end: messages in from ``rfd``, replies out to ``wfd`` (never blocking on
    either, so a solver that stops reading cannot stall the referee).

    Parameters
    ----------
    rfd
        File descriptor the solver's process writes messages to.
    kinds
        The message kinds accepted.
    wfd
        File descriptor the replies go to (``None``: none are sent).
    sentinel
        A descriptor that becomes readable when the solver's process ends (its end is then the
        end of messages, even where a descendant still holds the pipe open).
    """

    def __init__(self, rfd: int, kinds: tuple[str, ...], wfd: int | None = None, sentinel: int | None = None) -> None:
        self.rfd, self.wfd, self.kinds, self.sentinel = rfd, wfd, kinds, sentinel
        self.buffer = bytearray()
        self.scanned = 0
        self.pending = bytearray()
        self.eof = False
        os.set_blocking(rfd, False)
        if wfd is not None:
            os.set_blocking(wfd, False)

    def reply(self, kind: str, fields: dict[str, Any]) -> None:
        """Queue a reply; :class:`WireError` once the solver leaves too much unread."""
        self.pending += encode(kind, fields)
        if len(self.pending) > MAX_PENDING:
            raise WireError(f"the solver's process left over {MAX_PENDING:,} bytes of replies unread")
        self._flush()

    def _flush(self) -> None:
        if self.pending and self.wfd is not None:
            try:
                del self.pending[: os.write(self.wfd, self.pending)]
            except BlockingIOError:
                pass
            except BrokenPipeError:
                self.pending.clear()  # nobody reads replies any more: the solve's end is near

    def _line(self) -> bytes | None:
        if self.buffer[:1] not in (b"", b"["):  # a pickle, a frame header, stray bytes: fail now, not at the timeout
            raise WireError(f"not a JSON message (starts {bytes(self.buffer[:16])!r})")
        at = self.buffer.find(b"\n", self.scanned)
        if at < 0:
            self.scanned = len(self.buffer)
            if len(self.buffer) > MAX_MESSAGE:
                raise WireError(f"a message of over {MAX_MESSAGE:,} bytes (the limit)")
            return None
        line = bytes(self.buffer[:at])
        del self.buffer[: at + 1]
        self.scanned = 0
        return line

    def receive(self, timeout: float | None, cancelled: Any = None) -> tuple[str, dict[str, Any]] | None:
        """The next message, or ``None`` where none is complete within ``timeout`` seconds.

        Raises ``EOFError`` when the other end closed (a partial last message is dropped),
        :class:`WireError` for a malformed or oversized message, and whatever ``cancelled()``
        raises (checked every :data:`SLICE` seconds).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            line = self._line()
            if line is not None:
                return decode(line, self.kinds)
            if self.eof:
                raise EOFError
            if cancelled is not None:
                cancelled()
            left = SLICE if deadline is None else min(SLICE, deadline - time.monotonic())
            if left <= 0 and deadline is not None:
                return None
            writers = [self.wfd] if self.pending and self.wfd is not None else []
            readers = [self.rfd] if self.sentinel is None else [self.rfd, self.sentinel]
            readable, writable, _ = select.select(readers, writers, [], max(0.0, left))
            if writable:
                self._flush()
            if self.sentinel is not None and self.sentinel in readable:
                self._drain()
                self.eof = True
            elif readable:
                self._read()

    def _read(self) -> bool:
        """One read of what is there; ``False`` where nothing was."""
        try:
            chunk = os.read(self.rfd, CHUNK)
        except BlockingIOError:
            return False
        if not chunk:
            self.eof = True
            return False
        self.buffer += chunk
        return True

    def _drain(self) -> None:
        """Read what the ended process left in the pipe (bounded: a descendant may keep writing)."""
        while len(self.buffer) <= MAX_MESSAGE and self._read():
            pass


class Reader:
    """The solver's end of the reply pipe: blocking reads of whole messages."""

    def __init__(self, fd: int, kinds: tuple[str, ...]) -> None:
        self.fd, self.kinds = fd, kinds
        self.buffer = bytearray()

    def receive(self) -> tuple[str, dict[str, Any]]:
        while True:
            at = self.buffer.find(b"\n")
            if at >= 0:
                line = bytes(self.buffer[:at])
                del self.buffer[: at + 1]
                return decode(line, self.kinds)
            chunk = os.read(self.fd, CHUNK)
            if not chunk:
                raise EOFError
            self.buffer += chunk
