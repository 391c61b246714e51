"""The import contract, read from the source (imports inside functions included): the core imports
neither generators nor solvers, generators and solvers import only the core, harness and CLI sit on
top; and no module imports its way back to itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("reassembly", "generators", "solvers")


def layer(module: str) -> str:
    if module == "reassembly":  # the package's namespace is the public facade: it re-exports the bench API lazily
        return "top"
    if module.startswith(("reassembly.harness", "reassembly.cli", "reassembly.__main__")):
        return "top"
    return module.split(".")[0] if not module.startswith("reassembly") else "core"


ALLOWED = {
    "core": {"core"},
    "generators": {"core", "generators"},
    "solvers": {"core", "solvers"},
    "top": {"core", "generators", "solvers", "top"},
}


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            rel = path.relative_to(ROOT).with_suffix("")
            name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
            found[name] = path
    return found


def imports(path: Path, name: str) -> set[str]:
    """Project modules imported anywhere in the file (absolute and relative)."""
    out = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)
    known = modules()
    return {m for m in out if m in known and m != name}


GRAPH = {name: imports(path, name) for name, path in modules().items()}


@pytest.mark.parametrize("name", sorted(GRAPH))
def test_each_module_imports_only_its_layer_or_below(name: str) -> None:
    bad = sorted(m for m in GRAPH[name] if layer(m) not in ALLOWED[layer(name)])
    assert not bad, f"{name} ({layer(name)}) imports {bad}"


def test_no_import_cycles() -> None:
    """Between modules of the project, counting the package __init__ files as their own modules."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(GRAPH.get(node, ())):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(GRAPH):
        if node not in state:
            visit(node)
