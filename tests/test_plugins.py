"""Tasks, block families and generators plug in by entry point, as solvers do: an outside package
(``tests/helpers/toyplug``, installed as a ``.dist-info`` on ``PYTHONPATH``) adds a task with its
generator and solver, and a block family; both bench end to end in a process that knows them
only through ``importlib.metadata``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reassembly.entrypoints import PluginSpec, discover
from reassembly.errors import ConfigError, PuzzleError

TOY = Path(__file__).parent / "helpers" / "toyplug"


def install(site: Path) -> Path:
    """``toyplug`` as pip would leave it: its modules and a ``.dist-info`` with its entry points."""
    site.mkdir()
    for name in ("toyplug_task.py", "toyplug_family.py"):
        shutil.copy(TOY / name, site / name)
    info = site / "toyplug-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toyplug\nVersion: 0.1\n")
    shutil.copy(TOY / "entry_points.txt", info / "entry_points.txt")
    return site


def test_a_toy_task_and_a_toy_family_from_an_outside_package_bench_end_to_end(tmp_path: Path) -> None:
    site = install(tmp_path / "site")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(
        [sys.executable, str(TOY / "bench_both.py"), str(tmp_path / "out")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert "toysort" in found["tasks"] and "tanh" in found["families"]
    toy = {(r["variant"], r["exact"]) for r in found["toy"]}
    assert toy == {("toy-sort", True), ("toy-sort[reverse=true]", False)}, found["toy"]
    assert all(r["status"] == "ok" and r["task"] == "toysort" for r in found["toy"])
    assert [(r["variant"], r["status"], r["family"]) for r in found["tanh"]] == [("fast", "ok", "tanh")], found["tanh"]
    assert (tmp_path / "out" / "toy" / "results.csv").is_file()


def test_unknown_names_list_what_there_is_and_plugins_cannot_take_a_built_in_name() -> None:
    from reassembly.families import get_family
    from reassembly.tasks import get_task

    with pytest.raises(ConfigError, match="unknown task 'nope'; choose from reassembly, resync"):
        get_task("nope")
    with pytest.raises(PuzzleError, match="unknown block family 'nope'; choose from relu"):
        get_family("nope")
    assert discover("reassembly.no-such-group", {"relu": "x:y"})["relu"].source == "built-in"


def test_a_broken_plugin_fails_with_its_name() -> None:
    with pytest.raises(
        ConfigError, match=r"task 'bad' \(from plugin x: no_such_mod:T\) failed to load: ModuleNotFoundError"
    ):
        PluginSpec("bad", "no_such_mod:T", "plugin x").load("task", ConfigError)
