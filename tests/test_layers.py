"""The layers of the engine: imports go down, and no private name crosses a module.

The path of ``X`` in every fit goes down through
estimator -> fit driver -> EM -> source -> core (docs/ARCHITECTURE.md), and never
climbs back. The import graph of ``tests/test_architecture.py`` (module-level and
function-level imports, ``TYPE_CHECKING`` blocks left out) must respect these
ranks: a module imports only modules of a lower or equal rank.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from test_architecture import SRC, _imports, _modules, import_graph

#: Rank of each layer, from the ground up; the first matching prefix wins.
RANKS: list[tuple[str, int]] = [
    ("gaussmix._typing", 0),
    ("gaussmix._docs", 0),
    ("gaussmix._inputs", 0),
    ("gaussmix._mpl", 0),
    ("gaussmix._version", 0),
    ("gaussmix.exceptions", 0),
    ("gaussmix._threads", 0),
    ("gaussmix.core", 1),
    ("gaussmix._validation", 2),
    ("gaussmix.model", 3),
    ("gaussmix.sources", 3),
    ("gaussmix.outofcore", 3),
    ("gaussmix.distributed", 3),
    ("gaussmix.em", 4),
    ("gaussmix.fitting", 5),
    ("gaussmix.array_api", 5),
    ("gaussmix._tail", 5),
    ("gaussmix.density", 5),
    ("gaussmix.base", 6),
    ("gaussmix.missing", 6),
    ("gaussmix.mixture", 7),
    ("gaussmix.summary", 7),
]
#: Everything else (io, selection, plotting, apps, cli, demo, the package's
#: face) stands on the estimator.
TOP = 8


def rank(module: str) -> int:
    for prefix, value in RANKS:
        if module == prefix or module.startswith(prefix + "."):
            return value
    return TOP


def test_imports_go_down_the_layers():
    climbing = [
        f"{module} (rank {rank(module)}) imports {target} (rank {rank(target)})"
        for module, targets in sorted(import_graph().items())
        for target in sorted(targets)
        if rank(target) > rank(module) and module != "gaussmix"
    ]
    assert not climbing, "imports that climb a layer:\n" + "\n".join(climbing)


def test_the_engine_is_in_its_layers():
    """The estimator fits through the driver; EM reads its statistics from a source."""
    graph = import_graph()
    assert "gaussmix.fitting" in graph["gaussmix.mixture"]
    assert {"gaussmix.core.mstep", "gaussmix.core.estep"}.isdisjoint(
        graph["gaussmix.mixture"]
    ), "the estimator runs no E-step or M-step itself"
    assert "gaussmix.sources" in graph["gaussmix.em"]


def _private_imports() -> list[str]:
    """``from gaussmix.x import _name`` across modules, and NumPy's private modules."""
    found = []
    for name, path in _modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in _imports(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                origin = node.module
                for alias in node.names:
                    private = alias.name.startswith("_") and not alias.name.startswith(
                        "__"
                    )
                    if (
                        private
                        and origin.split(".")[0] == "gaussmix"
                        and origin != name
                    ):
                        found.append(f"{name}: from {origin} import {alias.name}")
                if any(part.startswith("_") for part in origin.split(".")[1:]) and (
                    origin.split(".")[0] in {"numpy", "scipy", "sklearn"}
                ):
                    found.append(f"{name}: from {origin} import ...")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    parts = alias.name.split(".")
                    if parts[0] in {"numpy", "scipy", "sklearn"} and any(
                        p.startswith("_") for p in parts[1:]
                    ):
                        found.append(f"{name}: import {alias.name}")
    return found


#: The one place allowed to reach NumPy's private LAPACK gufuncs, with a fallback
#: to the public API (core/linalg.py).
NUMPY_PRIVATE_GATE = "gaussmix.core.linalg"


def test_no_private_name_crosses_a_module():
    found = [
        f for f in _private_imports() if not f.startswith(NUMPY_PRIVATE_GATE + ":")
    ]
    assert not found, "\n".join(found)


def test_numpy_private_modules_only_behind_one_function():
    gate = [f for f in _private_imports() if f.startswith(NUMPY_PRIVATE_GATE + ":")]
    assert len(gate) <= 1, gate


@pytest.mark.parametrize(
    ("module", "expected"),
    [("gaussmix.core.estep", 1), ("gaussmix.fitting", 5), ("gaussmix.cli", TOP)],
)
def test_ranks(module, expected):
    assert rank(module) == expected
    assert (SRC / Path(*module.split("."))).with_suffix(".py").exists()
