"""The shape of `src/crew`: no import cycles, and the library never depends on its CLI.

Every surface (the CLI, a web server, a Python caller) calls the same library; a module that
imported `crew.cli` or typer would pull a terminal into every one of them. The import graph is
read from the source with `ast`: module-level imports, imports inside functions and those under
`if TYPE_CHECKING:` alike (a cycle a type checker needs is still two modules that cannot be
understood one without the other).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "crew"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imported(name: str, path: Path) -> Iterator[tuple[str, int]]:
    """Every module `name` imports (absolute names, as written), with the line."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            for alias in node.names:
                # `from crew import templates` imports the module crew.spec.templates.
                submodule = f"{source}.{alias.name}"
                yield (submodule if submodule in MODULES else source), node.lineno


def _internal(target: str) -> str | None:
    """The module of `src/crew` that importing `target` runs (its nearest known parent)."""
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


def import_graph() -> dict[str, dict[str, int]]:
    """Module -> {module of crew it imports: the first line that does}."""
    graph: dict[str, dict[str, int]] = {}
    for name, path in MODULES.items():
        edges: dict[str, int] = {}
        for target, line in _imported(name, path):
            module = _internal(target)
            if module is not None and module != name:
                edges.setdefault(module, line)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _describe(component: list[str], graph: dict[str, dict[str, int]]) -> str:
    members = set(component)
    edges = [
        f"{source} -> {target} ({MODULES[source].relative_to(SRC)}:{line})"
        for source in component
        for target, line in sorted(graph[source].items())
        if target in members
    ]
    return " <-> ".join(component) + ":\n    " + "\n    ".join(edges)


def test_src_crew_has_no_import_cycle() -> None:
    graph = import_graph()
    assert len(graph) > 30  # the walk found the package
    found = cycles(graph)
    assert not found, "import cycles in src/crew:\n  " + "\n  ".join(
        _describe(component, graph) for component in found
    )


def test_the_cycle_finder_names_a_cycle() -> None:
    graph = {"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3}, "d": {"a": 4}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_no_library_module_imports_the_cli_or_typer() -> None:
    offenders = [
        f"{path.relative_to(SRC)}:{line}: imports {target}"
        for name, path in MODULES.items()
        if not (name == "crew.cli" or name.startswith("crew.cli."))
        for target, line in _imported(name, path)
        if target == "typer"
        or target.startswith("typer.")
        or target == "crew.cli"
        or target.startswith("crew.cli.")
    ]
    assert not offenders, "the library must not depend on its CLI:\n" + "\n".join(offenders)


# DESIGN §6: each layer uses only the layers below it (the same layer's modules may use each
# other). `crew` (the public face), the CLI and the worker stand on top; types and errors under all.
LAYERS = {
    "crew": 6,
    "crew.cli": 5,
    "crew.web": 5,
    "crew.worker": 5,
    "crew.testing": 5,
    "crew.engine": 4,
    "crew.agents": 3,
    "crew.people": 3,
    "crew.board": 2,
    "crew.persistence": 2,
    "crew.connection": 1,
    "crew.loading": 1,
    "crew.spec": 1,
    "crew.types": 0,
    "crew.exceptions": 0,
}


def layer_of(module: str) -> int:
    """The layer of a module: its nearest package (or module) that LAYERS names."""
    name = module
    while name not in LAYERS:
        name = name.rpartition(".")[0]
    return LAYERS[name]


def test_imports_never_run_up_the_layers() -> None:
    upward = [
        f"{MODULES[source].relative_to(SRC)}:{line}: {source} imports {target}"
        for source, targets in import_graph().items()
        for target, line in targets.items()
        if layer_of(target) > layer_of(source)
    ]
    assert not upward, "imports that run up the layers (DESIGN §6):\n" + "\n".join(upward)


def test_the_layer_check_sees_an_upward_import() -> None:
    assert layer_of("crew.board.board") < layer_of("crew.engine.runtime")
    assert layer_of("crew.people.answering") == layer_of("crew.agents.step")


def test_only_the_cli_imports_the_web_surface() -> None:
    """crew.web is a surface like crew.cli: it may use the whole library, and nothing but the
    CLI (`crew serve`) imports it, so the library never needs the web extra."""
    importers = [
        f"{MODULES[source].relative_to(SRC)}:{line}: {source} imports {target}"
        for source, targets in import_graph().items()
        for target, line in targets.items()
        if target.startswith("crew.web")
        and not source.startswith(("crew.web", "crew.cli"))
    ]
    assert not importers, "\n".join(importers)
