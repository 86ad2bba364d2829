"""The layering the README promises, checked on the source: no import cycles between modules,
and data flows one way (``rules`` and ``solver`` never import ``analyzer``; nothing imports
the CLI but the CLI itself)."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"cli": "jaxlint", "analyzer": "jaxlint.analyzer", "solver": "jaxlint.solver", "rules": "jaxlint.rules"}


def _modules() -> dict[str, Path]:
    modules = {}
    for folder, package in PACKAGES.items():
        for path in sorted((ROOT / folder).glob("*.py")):
            modules[package if path.stem == "__init__" else f"{package}.{path.stem}"] = path
    return modules


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every jaxlint module imported anywhere in the file (module level, functions and
    ``TYPE_CHECKING`` blocks alike: a cycle through any of them is a design smell)."""
    package = name if path.stem == "__init__" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t in known and t != name)
    return found


def _graph() -> nx.DiGraph:
    modules = _modules()
    graph = nx.DiGraph()
    for name, path in modules.items():
        graph.add_node(name)
        for target in _imports(name, path, set(modules)):
            graph.add_edge(name, target)
    return graph


def test_no_import_cycles_between_modules():
    graph = _graph()
    # A package's __init__ re-exporting its modules is not a cycle of design: leave those edges out.
    graph.remove_edges_from([(a, b) for a, b in list(graph.edges) if b in PACKAGES.values() and a.startswith(b + ".")])
    cycles = sorted(sorted(c) for c in nx.simple_cycles(graph))
    assert cycles == [], f"import cycles: {cycles}"


def test_rules_and_solver_never_import_the_analyzer_or_the_cli():
    graph = _graph()
    wrong = sorted(
        (a, b) for a, b in graph.edges
        if a.startswith(("jaxlint.rules", "jaxlint.solver"))
        and (b.startswith("jaxlint.analyzer") or b in ("jaxlint.cli",) or (b.startswith("jaxlint.") and b.count(".") == 1 and not b.startswith(("jaxlint.rules", "jaxlint.solver"))))
    )
    assert wrong == []
