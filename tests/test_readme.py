"""The README's plugin routes, verbatim: its files are written and its commands run in a temp folder,
in a fresh process each, then the packaged route is installed, used and removed."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.synthetic import write_puzzle

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"<!-- readme-test: (file (\S+)|run) -->\s*```\w*\n(.*?)```", re.S)


def blocks() -> tuple[dict[str, str], list[str]]:
    files, commands = {}, []
    for m in BLOCK.finditer(README.read_text()):
        if m.group(2):
            files[m.group(2)] = m.group(3)
        else:
            commands += [line for line in m.group(3).splitlines() if line.strip() and not line.startswith("#")]
    return files, commands


def run(command: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", "COLUMNS": "160"}
    env.pop("PYTHONPATH", None)  # a clean environment: only what the install provides
    return subprocess.run(command, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("readme")
    files, _ = blocks()
    assert {"mysolver.py", "pyproject.toml"} <= set(files)
    (root / "mysolver.py").write_text(files["mysolver.py"])
    write_puzzle(root / "puzzle", with_answer=True, depth=4, width=6, rows=60)
    return root


def test_the_quick_plugin_route_runs_verbatim(folder: Path) -> None:
    _, commands = blocks()
    assert len(commands) >= 3 and any("--imports mysolver.py" in c for c in commands)
    assert any(re.search(r"--imports mysolver\b(?!\.py)", c) for c in commands)  # the module-name form too
    for command in commands:
        done = run(command, folder)
        assert done.returncode == 0, (command, done.stdout[-2000:], done.stderr[-2000:])
        assert "Traceback" not in done.stderr
    listing = run(commands[0], folder).stdout
    assert "greedy" in listing and "runtime" in listing
    import pandas as pd

    rows = pd.read_csv(folder / "runs" / "results.csv")
    assert set(rows["solver"]) == {"greedy", "fast"} and (rows["status"] == "ok").all()


def test_the_packaged_route_installs_and_is_listed(folder: Path, tmp_path: Path) -> None:
    files, _ = blocks()
    package = tmp_path / "package"
    package.mkdir()
    (package / "pyproject.toml").write_text(files["pyproject.toml"])
    shutil.copy(folder / "mysolver.py", package)
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "-e", str(package)]
    installed = subprocess.run(pip, capture_output=True, text=True, timeout=300)
    if installed.returncode != 0 and "setuptools" in installed.stderr:
        pytest.skip("setuptools is not installed in this environment, which the packaged route builds with")
    assert installed.returncode == 0, installed.stderr[-2000:]
    try:
        listing = run("reassembly solvers", folder)
        assert "greedy-packaged" in listing.stdout and "plugin mysolver" in listing.stdout
        solved = run("reassembly solve puzzle -s greedy-packaged", folder)
        assert solved.returncode == 0 and re.fullmatch(r"\d+(,\d+)*\n", solved.stdout), solved.stderr
    finally:
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "-q", "-y", "mysolver"], capture_output=True, timeout=300)


def test_ci_installs_and_tests_as_the_readme_says():
    """CI's install and test commands are the README's first two commands, verbatim."""
    first = re.search(r"```bash\n(.*?)```", README.read_text(), re.S).group(1).splitlines()
    install, test = (line.split("#")[0].strip() for line in first[:2])
    ci = [line.strip() for line in (README.parent / ".ci" / "run").read_text().splitlines()]
    assert install.startswith("pip install") and install in ci
    assert test in ci
