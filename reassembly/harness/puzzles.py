"""Puzzles as the harness keeps them: the solver-visible files under ``OUT/puzzles/<id>/`` and the
answer apart under ``OUT/answers/<id>.json``; a content hash names exactly what a solver sees."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from reassembly.answer import ANSWER_NAME, Answer
from reassembly.errors import ConfigError
from reassembly.tasks import DEFAULT_TASK, get_task

PUZZLES_DIR = "puzzles"
ANSWERS_DIR = "answers"


def content_hash(root: Path, task: str = DEFAULT_TASK) -> str:
    """SHA-256 over the solver-visible files (names and bytes): equal hashes, the same puzzle."""
    digest = hashlib.sha256()
    for rel in get_task(task).visible_files(root):
        digest.update(rel.encode() + b"\0" + hashlib.sha256((root / rel).read_bytes()).digest())
    return digest.hexdigest()


_checked: dict[tuple[str, str], tuple[tuple[Any, ...], str]] = {}


def fingerprint(root: Path, task: str = DEFAULT_TASK) -> tuple[Any, ...]:
    """Names, inodes, sizes and modification/change times of the solver-visible files: any write,
    rename, link or ``utime`` changes it (the change time cannot be set back)."""
    out = []
    for rel in get_task(task).visible_files(root):
        info = os.stat(root / rel)
        out.append((rel, info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns))
    return tuple(out)


def checked_hash(root: Path, task: str = DEFAULT_TASK) -> tuple[str, tuple[Any, ...]]:
    """:func:`content_hash` of ``root`` and its :func:`fingerprint`; the hash is reused while the
    fingerprint is unchanged (the bytes are read again as soon as any file was touched)."""
    key = (str(root), task)
    before = fingerprint(root, task)
    known = _checked.get(key)
    if known is not None and known[0] == before:
        return known[1], before
    digest = content_hash(root, task)
    if fingerprint(root, task) == before:
        _checked[key] = (before, digest)
    return digest, before


def copy_visible(src: Path, dst: Path, link: bool = False, task: str = DEFAULT_TASK) -> Path:
    """Copy (or hard-link, where ``link`` and possible) the solver-visible files of ``src`` into ``dst``."""
    for rel in get_task(task).visible_files(src):
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if link:
            try:
                os.link(src / rel, target)
                continue
            except OSError:
                pass
        shutil.copyfile(src / rel, target)
    return dst


def file_digest(path: str | Path | None) -> str | None:
    """SHA-256 of one file's bytes (``None`` for no file)."""
    if path is None or not Path(path).is_file():
        return None
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def sealed_copy(entry: PuzzleEntry, dst: Path) -> tuple[Path, Path | None]:  # noqa: F821
    """Private copies of ``entry``'s solver-visible files (``dst/puzzle``) and answer
    (``dst/answer.json``), checked against the hashes taken when the bench planned it (before any
    solver ran): whatever a solver did to the stored files, the copy is what was planned or a
    one-line :class:`~reassembly.errors.PuzzleError`."""
    from reassembly.errors import PuzzleError

    root = copy_visible(Path(entry.path), dst / "puzzle", task=entry.task)
    if content_hash(root, entry.task) != entry.content:
        raise PuzzleError(f"{entry.path}: the stored puzzle changed since the bench planned it; refusing to use it")
    if entry.answer is None:
        return root, None
    answer = dst / ANSWER_NAME
    shutil.copyfile(entry.answer, answer)
    sha = getattr(entry, "answer_sha", None)
    if sha is not None and file_digest(answer) != sha:
        raise PuzzleError(f"{entry.answer}: the stored answer changed since the bench planned it; refusing to use it")
    return root, answer


def read_only(root: Path) -> None:
    """Make a copied tree read-only (files 0444, folders 0555)."""
    for folder, _, files in os.walk(root):
        for name in files:
            os.chmod(os.path.join(folder, name), 0o444)
    for folder, _, _ in os.walk(root, topdown=False):
        os.chmod(folder, 0o555)


def remove_tree(root: Path) -> None:
    """``rmtree`` that first makes read-only folders (:func:`read_only`) writable again."""
    for folder, dirs, _ in os.walk(root):
        for name in dirs:
            try:
                os.chmod(os.path.join(folder, name), 0o700, follow_symlinks=False)
            except OSError:
                pass
    shutil.rmtree(root, ignore_errors=True)


def _replace(path: Path, data: bytes) -> None:
    """Write ``path`` as a new file renamed into place (a symlink there is replaced, never followed)."""
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def answer_path(out: Path, pid: str) -> Path:
    return out / ANSWERS_DIR / f"{pid}.json"


def store_directory(
    src: Path, out: Path, pid: str, answer: Answer | None = None, task: str = DEFAULT_TASK
) -> tuple[Path, str]:
    """Keep problem directory ``src`` as ``OUT/puzzles/<pid>`` (hard links where possible) with its
    answer (``answer``, else ``src/answer.json`` where present) under ``OUT/answers``. A stored copy
    with the same content is reused. Returns the stored path and the content hash. Another task's
    answer file is kept as it is (its task reads it)."""
    from reassembly.answer import load_answer

    digest = checked_hash(src, task)[0]
    final = out / PUZZLES_DIR / pid
    if final.is_symlink():  # not ours: replaced by a real copy, its target left alone
        final.unlink()
    if not (final.is_dir() and checked_hash(final, task)[0] == digest):
        tmp = final.with_name(f".tmp-{pid}")
        shutil.rmtree(tmp, ignore_errors=True)
        copy_visible(src, tmp, link=True, task=task)
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
    if task != DEFAULT_TASK and answer is None:
        if (src / ANSWER_NAME).is_file():
            (out / ANSWERS_DIR).mkdir(parents=True, exist_ok=True)
            _replace(answer_path(out, pid), (src / ANSWER_NAME).read_bytes())
        return final, digest
    known = answer if answer is not None else load_answer(src / ANSWER_NAME)
    if known is not None:
        (out / ANSWERS_DIR).mkdir(parents=True, exist_ok=True)
        _replace(answer_path(out, pid), (json.dumps(known.to_json()) + "\n").encode())
    return final, digest


def check_out(out: Path) -> Path:
    """``--out``: a directory that is new, empty, or holds this harness's results (never a file,
    never someone else's ``results.csv``)."""
    from reassembly.harness.results import CSV_NAME as RESULTS_CSV
    from reassembly.harness.results import JSONL_NAME

    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: exists and is not a directory")
    from reassembly.harness.results import ours

    if out.is_symlink():
        raise ConfigError(f"--out {out}: is a symlink; give the folder itself")
    if os.path.lexists(out / RESULTS_CSV) and not os.path.lexists(out / JSONL_NAME):
        raise ConfigError(
            f"--out {out}: holds a {RESULTS_CSV} that this harness did not write (no {JSONL_NAME}); "
            "choose another directory"
        )
    for name in (RESULTS_CSV, JSONL_NAME, ANSWERS_DIR, PUZZLES_DIR):
        if (out / name).is_symlink():
            raise ConfigError(f"--out {out}: {name} is a symlink; refusing to write through it")
    if os.path.lexists(out / JSONL_NAME) and not ours(out / JSONL_NAME):
        raise ConfigError(
            f"--out {out}: holds a {JSONL_NAME} that this harness did not write; choose another directory"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--out {out}: cannot create it ({exc.strerror})") from None
    if not os.access(out, os.W_OK):
        raise ConfigError(f"--out {out}: not writable")
    return out
