"""The handlers' modules import each other without circles, and the packages only downward.

Read from the source (every ``import``, including late ones inside functions), so a circle
that a late import would hide at run time still fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("storage", "handlers", "bot")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for layer in LAYERS
        for path in (ROOT / layer).rglob("*.py")
        if "migrations" not in path.parts
    }


def _imports(path: Path, known: set[str]) -> set[str]:
    """The project modules ``path`` imports (``from a import b`` counts ``a.b`` if a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in known)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(path, known) - {name} for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle, if there is any (depth-first search)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_module_imports_itself_through_others() -> None:
    cycle = _cycle(_graph())
    assert cycle is None, "import circle: " + " → ".join(cycle or [])


def test_the_cycle_check_finds_a_circle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_layers_only_import_downwards() -> None:
    below = {"storage": set(), "handlers": {"storage"}, "bot": {"storage", "handlers"}}
    wrong = [
        f"{name} imports {target}"
        for name, targets in _graph().items()
        for target in targets
        if (top := target.split(".")[0]) != name.split(".")[0]
        and top not in below[name.split(".")[0]]
    ]
    assert wrong == []


def test_handler_packages_only_import_downwards() -> None:
    """kernel ← participant ← matchmaking ← organiser ← flows ← core: each uses only those
    before it."""
    order = [
        "handlers.kernel",
        "handlers.participant",
        "handlers.matchmaking",
        "handlers.organiser",
        "handlers.flows",
        "handlers.core",
    ]

    def rank(module: str) -> int | None:
        return next(
            (i for i, p in enumerate(order) if module == p or module.startswith(p + ".")), None
        )

    wrong = [
        f"{name} imports {target}"
        for name, targets in _graph().items()
        for target in targets
        if (mine := rank(name)) is not None
        and (theirs := rank(target)) is not None
        and theirs > mine
    ]
    assert wrong == []
    assert not [name for name in _graph() if name.startswith("handlers.") and rank(name) is None]
