"""Puzzles as the harness keeps them: the solver-visible files under ``OUT/puzzles/<id>/`` and the
answer apart under ``OUT/answers/<id>.json``; a content hash names exactly what a solver sees."""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from reassembly.answer import ANSWER_NAME, Answer, save_answer
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


def sealed_copy(entry: "PuzzleEntry", dst: Path) -> tuple[Path, Path | None]:  # noqa: F821
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
    for folder, dirs, files in os.walk(root):
        for name in files:
            os.chmod(os.path.join(folder, name), 0o444)
    for folder, dirs, files in os.walk(root, topdown=False):
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


def answer_path(out: Path, pid: str) -> Path:
    return out / ANSWERS_DIR / f"{pid}.json"


def store_directory(src: Path, out: Path, pid: str, answer: Answer | None = None, task: str = DEFAULT_TASK) -> tuple[Path, str]:
    """Keep problem directory ``src`` as ``OUT/puzzles/<pid>`` (hard links where possible) with its
    answer (``answer``, else ``src/answer.json`` where present) under ``OUT/answers``. A stored copy
    with the same content is reused. Returns the stored path and the content hash. Another task's
    answer file is kept as it is (its task reads it)."""
    from reassembly.answer import load_answer

    digest = content_hash(src, task)
    final = out / PUZZLES_DIR / pid
    if not (final.is_dir() and content_hash(final, task) == digest):
        tmp = final.with_name(f".tmp-{pid}")
        shutil.rmtree(tmp, ignore_errors=True)
        copy_visible(src, tmp, link=True, task=task)
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
    if task != DEFAULT_TASK and answer is None:
        if (src / ANSWER_NAME).is_file():
            (out / ANSWERS_DIR).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / ANSWER_NAME, answer_path(out, pid))
        return final, digest
    known = answer if answer is not None else load_answer(src / ANSWER_NAME)
    if known is not None:
        (out / ANSWERS_DIR).mkdir(parents=True, exist_ok=True)
        save_answer(known, answer_path(out, pid))
    return final, digest


def check_out(out: Path) -> Path:
    """``--out``: a directory that is new, empty, or holds this harness's results (never a file,
    never someone else's ``results.csv``)."""
    from reassembly.harness.results import CSV_NAME as RESULTS_CSV
    from reassembly.harness.results import JSONL_NAME

    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: exists and is not a directory")
    if (out / RESULTS_CSV).exists() and not (out / JSONL_NAME).exists():
        raise ConfigError(f"--out {out}: holds a {RESULTS_CSV} that this harness did not write (no {JSONL_NAME}); "
                          "choose another directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--out {out}: cannot create it ({exc.strerror})") from None
    if not os.access(out, os.W_OK):
        raise ConfigError(f"--out {out}: not writable")
    return out
