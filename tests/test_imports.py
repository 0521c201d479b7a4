"""The package's shape: no import cycles, and no feature reaches up to the composition root.

Every import counts (also those inside functions, which run later but still tie modules
together), except those under ``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import conveyor

PACKAGE = Path(conveyor.__file__).parent
ROOT = "conveyor.app"
# Modules that may build the pieces: the CLI, the demo, the package's lazy `Project`.
ABOVE_THE_ROOT = ("conveyor.cli", "conveyor.cli.demo")


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _known(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(name: str, path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(sub)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.dump(node.test)
        for sub in ast.walk(node)
    }
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            candidates = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        for candidate in candidates:
            target = _known(candidate) if candidate.startswith("conveyor") else None
            if target and target != name and not name.startswith(target + "."):
                targets.add(target)
    return targets


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycles() -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in GRAPH[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in GRAPH:
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_real_imports() -> None:
    assert "conveyor.stack.tracking" in GRAPH["conveyor.app"]
    assert "conveyor.scoring" in GRAPH["conveyor.serving.service"]
    assert "conveyor.scoring" in GRAPH["conveyor.serving.service"]
    assert "conveyor.lifecycle.training" in GRAPH["conveyor.lifecycle.registration"]


def test_no_import_cycles() -> None:
    assert _cycles() == []


def test_no_feature_imports_the_composition_root() -> None:
    offenders = sorted(
        f"{name} -> {ROOT}"
        for name, targets in GRAPH.items()
        if ROOT in targets and name != "conveyor" and not name.startswith(ABOVE_THE_ROOT)
    )
    assert offenders == []


# Layers, lowest first: a module may import its own package and anything on a lower layer,
# never a package beside it or above it.
LAYERS = [
    ("core", "examples"),  # pure: config, refs, tags, capture layout, errors
    ("stack",),  # one environment's stores and the explicit MLflow client
    ("inference", "data"),
    ("profiles", "scoring"),  # profiles read Parquet through data; scoring runs inference plans
    ("lifecycle", "scaffold", "packs"),  # packs: environment packs (scoring reads the model)
    ("monitoring",),  # may use lifecycle (tags, metrics, retrain requests); never the reverse
    ("batch", "serving", "streaming"),
    ("online",),  # online learning: reads streams through streaming's brokers
    ("jobs",),
    ("scheduling", "exports"),  # the embedded scheduler; Airflow/Kubernetes exports and release
    ("dashboard",),  # pages and JSON endpoints over the registry, audit log, endpoint, runs
    ("app",),  # the composition root
    ("cli",),
    ("__main__", "conveyor"),
]
RANK = {package: rank for rank, packages in enumerate(LAYERS) for package in packages}
# Beside each other on one layer, one way only.
BESIDE = {("profiles", "data"), ("scoring", "inference"), ("scoring", "data")}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "conveyor"


def test_every_package_has_a_layer() -> None:
    assert {_package(name) for name in MODULES} <= set(RANK)


def test_dependencies_point_down() -> None:
    upward = sorted(
        f"{name} -> {target}"
        for name, targets in GRAPH.items()
        for target in targets
        if (a := _package(name)) != (b := _package(target))
        and RANK[a] <= RANK[b]
        and (a, b) not in BESIDE
    )
    assert upward == []
