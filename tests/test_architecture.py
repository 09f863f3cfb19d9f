"""The layering of the package: its import graph has no cycles.

Every module of ``src/gaussmix`` is parsed (not imported); its imports are
collected at module level *and* inside functions (a function-level import that
goes back up a layer is a cycle all the same), leaving out ``if TYPE_CHECKING:``
blocks. Each import is resolved to a gaussmix module: ``from gaussmix.x import
y`` is an edge to ``gaussmix.x.y`` when ``y`` is a submodule, else to
``gaussmix.x``; a package counts as its ``__init__``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "gaussmix"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted((SRC / PACKAGE).rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    """``TYPE_CHECKING`` or ``typing.TYPE_CHECKING``."""
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, outside ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _resolve(
    node: ast.Import | ast.ImportFrom, module: str, is_package: bool, known: set[str]
) -> set[str]:
    """The gaussmix modules that one import statement runs."""
    targets: set[str] = set()
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name.split(".")[0] == PACKAGE and alias.name in known:
                targets.add(alias.name)
        return targets
    if node.level:
        base = module.split(".")
        if not is_package:
            base = base[:-1]
        base = base[: len(base) - (node.level - 1)]
        origin = ".".join(base + ([node.module] if node.module else []))
    else:
        origin = node.module or ""
    if origin.split(".")[0] != PACKAGE:
        return targets
    for alias in node.names:
        submodule = f"{origin}.{alias.name}"
        if submodule in known:
            targets.add(submodule)
        elif origin in known:
            targets.add(origin)
    return targets


def import_graph() -> dict[str, set[str]]:
    """``module -> modules it imports`` over all of ``src/gaussmix``."""
    modules = _modules()
    known = set(modules)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        edges: set[str] = set()
        for node in _imports(tree):
            edges |= _resolve(node, name, is_package, known)
        edges.discard(name)
        graph[name] = edges
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def a_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """One cycle through the first module of a strongly connected component."""
    members = set(component)
    start = component[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(graph[node] & members):
            if child == start:
                return [*paths[node], start]
            if child not in paths:
                paths[child] = [*paths[node], child]
                queue.append(child)
    raise AssertionError("not a cycle")  # pragma: no cover


def test_import_graph_has_no_cycles():
    """No gaussmix module imports, directly or not, a module that imports it."""
    graph = import_graph()
    cycles = [" -> ".join(a_cycle(graph, c)) for c in strongly_connected(graph)]
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_core_imports_only_core():
    """The numeric core imports nothing of the layers above it."""
    graph = import_graph()
    for module, targets in graph.items():
        if module.startswith(f"{PACKAGE}.core"):
            above = {t for t in targets if not t.startswith(f"{PACKAGE}.core")}
            assert above <= {f"{PACKAGE}._typing"}, (module, above)


class TestTheCheckItself:
    """The graph and cycle finder see what they must."""

    def test_function_level_and_relative_imports_count(self, tmp_path):
        source = (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from gaussmix.b import x\n"
            "def f():\n    from . import c\n    from gaussmix.d import y\n"
        )
        tree = ast.parse(source)
        known = {"gaussmix", "gaussmix.a", "gaussmix.b", "gaussmix.c", "gaussmix.d"}
        targets: set[str] = set()
        for node in _imports(tree):
            targets |= _resolve(node, "gaussmix.a", False, known)
        assert targets == {"gaussmix.c", "gaussmix.d"}

    def test_a_two_module_cycle_is_found(self):
        graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
        (component,) = strongly_connected(graph)
        assert component == ["a", "b", "c"]
        assert a_cycle(graph, component) == ["a", "b", "c", "a"]

    @pytest.mark.parametrize("module", ["gaussmix.core.covariance", "gaussmix.em"])
    def test_real_modules_are_seen(self, module):
        assert module in import_graph()


#: The estimator stays thin (issue 12): its module and every class have a ceiling.
MIXTURE_MAX_LINES = 800
CLASS_MAX_LINES = 700


def test_the_estimator_module_and_every_class_stay_small():
    mixture = SRC / PACKAGE / "mixture.py"
    n_lines = len(mixture.read_text(encoding="utf-8").splitlines())
    assert n_lines <= MIXTURE_MAX_LINES, (
        f"mixture.py has {n_lines} lines (at most {MIXTURE_MAX_LINES}): move the "
        "work into the driver, the sources or the core"
    )
    large = []
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                if size > CLASS_MAX_LINES:
                    large.append(f"{path.relative_to(SRC)}: {node.name} ({size} lines)")
    assert not large, f"classes over {CLASS_MAX_LINES} lines:\n" + "\n".join(large)
