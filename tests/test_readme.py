"""The README's plugin walkthrough, verbatim, from an empty folder: its files are written and its
commands run in order (each in a fresh shell), the quick route and then the packaged one (installed,
used and removed, offline: pip is told not to isolate the build nor use an index). Broken plugins
are reported by ``solvers`` and by a default ``bench``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.cli import invoke
from helpers.synthetic import write_puzzle

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"<!-- readme-test: (file (\S+)|run) -->\s*```\w*\n(.*?)```", re.S)
OFFLINE = {"PIP_NO_BUILD_ISOLATION": "0", "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def steps() -> list[tuple[str, str]]:
    """The walkthrough in README order: ``("file", name)`` with its text, or ``("run", command)``."""
    out: list[tuple[str, str]] = []
    for m in BLOCK.finditer(README.read_text()):
        if m.group(2):
            out.append((f"file {m.group(2)}", m.group(3)))
        else:
            out += [
                ("run", line.split("  #")[0].strip())
                for line in m.group(3).splitlines()
                if line.strip() and not line.startswith("#")
            ]
    return out


def run(command: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        **OFFLINE,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "COLUMNS": "160",
    }
    env.pop("PYTHONPATH", None)  # a clean environment: only what the install provides
    return subprocess.run(command, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_plugin_walkthrough_runs_verbatim_from_an_empty_folder(tmp_path: Path) -> None:
    walk = steps()
    commands = [c for kind, c in walk if kind == "run"]
    assert {"file mysolver.py", "file pyproject.toml"} <= {kind for kind, _ in walk}
    assert any("--imports mysolver.py" in c for c in commands) and any(
        re.search(r"--imports mysolver\b(?!\.py)", c) for c in commands
    )
    assert any(c.startswith("pip install") for c in commands) and commands[-1].startswith("pip uninstall")
    outputs = {}
    try:
        for kind, text in walk:
            if kind != "run":
                (tmp_path / kind.split()[1]).write_text(text)
                continue
            done = run(text, tmp_path)
            if (
                done.returncode != 0
                and text.startswith("pip install")
                and "setuptools" in done.stderr
                and "No module" in done.stderr
            ):
                pytest.skip("setuptools is not installed in this environment, which the packaged route builds with")
            assert done.returncode == 0, (text, done.stdout[-2000:], done.stderr[-2000:])
            assert "Traceback" not in done.stderr
            outputs[text] = done.stdout
    finally:
        subprocess.run(
            [sys.executable, "-m", "pip", "uninstall", "-q", "-y", "mysolver"], capture_output=True, timeout=300
        )
    listings = [out for c, out in outputs.items() if c.startswith("reassembly solvers")]
    assert "greedy" in listings[0] and "runtime" in listings[0]
    assert "greedy-packaged" in listings[1] and "plugin mysolver" in listings[1]
    packaged = next(out for c, out in outputs.items() if "-s greedy-packaged" in c)
    assert re.fullmatch(r"\d+(,\d+)*\n", packaged)
    import pandas as pd

    out = next(c for c in commands if c.startswith("reassembly bench")).split("--out ")[1].split()[0]
    rows = pd.read_csv(tmp_path / out / "results.csv")
    assert set(rows["solver"]) == {"greedy", "fast"} and (rows["status"] == "ok").all()


BROKEN = """
from reassembly.registry import register

register("t-broken", "no_such_module_here:Solver")
"""


def test_a_broken_plugin_is_reported_by_solvers_and_by_a_default_bench(tmp_path: Path) -> None:
    from reassembly.registry import unregister

    (tmp_path / "broken_plugin.py").write_text(BROKEN)
    plugin = tmp_path / "broken_plugin.py"
    puzzle = write_puzzle(tmp_path / "p", with_answer=True, depth=3, width=4, hidden=8, rows=60)
    try:
        listed = invoke("solvers", "--imports", plugin)
        assert listed.exit_code == 0, listed.output
        assert "broken" in listed.output and "no_such_module_here" in listed.output
        benched = invoke(
            "bench",
            "--seeds",
            "0",
            "--puzzle",
            puzzle,
            "--imports",
            plugin,
            "--out",
            tmp_path / "o",
            "--jobs",
            "1",
            "--threads",
            "1",
        )
        assert benched.exit_code == 0, benched.output
        assert "broken plugin, left out: solver 't-broken'" in " ".join(benched.output.split())
    finally:
        unregister("t-broken")


def test_ci_installs_and_tests_as_the_readme_says():
    """CI's install and test commands are the README's first two commands, verbatim."""
    first = re.search(r"```bash\n(.*?)```", README.read_text(), re.S).group(1).splitlines()
    install, test = (line.split("#")[0].strip() for line in first[:2])
    ci = [line.strip() for line in (README.parent / ".ci" / "run").read_text().splitlines()]
    assert install.startswith("pip install") and install in ci
    assert test in ci
