"""The one way this package replaces a file: write a temporary file beside it, then ``os.replace``,
so that a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(path: str | Path, data: bytes | str, durable: bool = True, mode: int = 0o644) -> Path:
    """Replace ``path`` with ``data`` in one step (its folder is created where missing).

    Parameters
    ----------
    path
        The file to write.
    data
        Its new contents (``str`` is written as UTF-8).
    durable
        ``fsync`` before the rename, so that the new contents survive a crash (results, caches);
        off for frequent, disposable writes (anytime answers).
    mode
        Permission bits of the new file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode() if isinstance(data, str) else data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
