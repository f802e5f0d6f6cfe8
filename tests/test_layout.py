"""The package layout holds: imports go down the layers only, and no module imports itself back.

Read from the source with ``ast``, so imports under ``if TYPE_CHECKING:`` and inside functions
count too: a cycle hidden from the interpreter is still a cycle for the reader.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

import vsssim

PACKAGE = Path(vsssim.__file__).parent

# Lowest first: a module may import its own layer and the layers before it, never one after.
LAYERS = (
    "vsssim._version",
    "vsssim.errors",
    "vsssim.sim",
    "vsssim.vss",
    "vsssim.faults",
    "vsssim.render",
    "vsssim.requesters",
    "vsssim.host",
    "vsssim.testing",
    "vsssim.rpc",
    "vsssim.cli",
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def known(name: str) -> str | None:
    """The module ``name`` is, or the package it is a name of (``from pkg import name``)."""
    while name:
        path = PACKAGE.parent / name.replace(".", "/")
        if path.with_suffix(".py").exists() or (path / "__init__.py").exists():
            return name
        name = name.rpartition(".")[0]
    return None


def _top_level(tree: ast.Module) -> list[ast.stmt]:
    """The statements run at import: the module's body, less ``if TYPE_CHECKING:`` blocks."""
    nodes: list[ast.stmt] = []
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            nodes += node.orelse
        else:
            nodes.append(node)
    return nodes


def imports_of(path: Path, *, at_import_only: bool = False) -> set[str]:
    """The package's modules ``path`` imports: anywhere in it, or only when it is imported."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = _top_level(tree) if at_import_only else list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("vsssim")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            if base.startswith("vsssim"):
                found |= {known(f"{base}.{a.name}") or base for a in node.names}
    return {m for m in (known(f) for f in found) if m and m != me}


def import_graph(*, at_import_only: bool = False) -> nx.DiGraph:
    graph = nx.DiGraph()
    for path in sorted(PACKAGE.rglob("*.py")):
        me = module_name(path)
        graph.add_node(me)
        others = imports_of(path, at_import_only=at_import_only)
        graph.add_edges_from((me, other) for other in sorted(others))
    return graph


def layer_of(module: str) -> int | None:
    for rank, layer in enumerate(LAYERS):
        if module == layer or module.startswith(layer + "."):
            return rank
    return None  # the top: vsssim/__init__.py, __main__.py and the moved-names finder


def test_the_graph_is_read_from_the_source() -> None:
    graph = import_graph()
    assert graph.number_of_nodes() > 50
    assert ("vsssim.host.world", "vsssim.vss.coordinator") in graph.edges or any(
        a == "vsssim.host.world" and b.startswith("vsssim.vss.coordinator") for a, b in graph.edges
    )


def test_no_import_cycle_when_the_package_is_imported() -> None:
    cycles = sorted(sorted(c) for c in nx.simple_cycles(import_graph(at_import_only=True)))
    assert cycles == [], f"import cycles: {cycles}"


def test_no_import_cycle_through_type_hints_or_functions_either() -> None:
    cycles = sorted(sorted(c) for c in nx.simple_cycles(import_graph()))
    assert cycles == [], f"import cycles (type hints and function-level imports included): {cycles}"


def test_imports_go_down_the_layers_only() -> None:
    upward = []
    for a, b in sorted(import_graph().edges):
        ra, rb = layer_of(a), layer_of(b)
        if ra is not None and (rb is None or rb > ra):
            upward.append(f"{a} -> {b}")
    assert upward == [], "imports that go up a layer:\n" + "\n".join(upward)


def test_every_module_has_a_layer() -> None:
    top = {"vsssim", "vsssim.__main__", "vsssim._moved"}
    assert sorted(m for m in import_graph() if layer_of(m) is None and m not in top) == []


#: The renderers of a run read the trace and the vocabulary only, never the model that wrote it.
TRACE_READERS = (
    "vsssim.render.sequence",
    "vsssim.render.sequence_cast",
    "vsssim.render.sequence_text",
    "vsssim.render.text",
)


def test_the_run_renderers_read_the_trace_and_the_vocabulary_only() -> None:
    allowed = {"vsssim.sim.trace", "vsssim.sim.vocabulary"}
    graph = import_graph()
    assert set(TRACE_READERS) <= set(graph)
    stray = sorted(
        f"{reader} -> {other}"
        for reader in TRACE_READERS
        for other in graph.successors(reader)
        if other not in allowed and not other.startswith("vsssim.render.")
    )
    assert stray == [], "a renderer of the trace imports more than the trace:\n" + "\n".join(stray)


#: Past these a module or function is cut into named parts, unless a comment that says why
#: (``# long: ...``) stands on its first line.
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 600, 70


def test_no_module_or_function_is_long_without_a_reason() -> None:
    long: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        if len(lines) > MAX_MODULE_LINES and "# long:" not in lines[0]:
            long.append(f"{module_name(path)}: {len(lines)} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                if size > MAX_FUNCTION_LINES and "# long:" not in lines[node.lineno - 1]:
                    long.append(f"{module_name(path)}.{node.name}: {size} lines")
    assert long == []
