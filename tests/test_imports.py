"""No import circle anywhere in the project, lazy imports (inside functions) included,
and the core never imports the dashboard. Read from the source (AST), nothing imported."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ("dimee_core", "ui", "pages", "bench", "app.py")


def _modules() -> dict[str, Path]:
    files = [ROOT / "app.py"] + [p for d in PROJECT[:-1] for p in (ROOT / d).rglob("*.py")]
    out = {}
    for path in files:
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _targets(name: str, path: Path, node: ast.AST, modules: dict[str, Path]) -> set[str]:
    """The project modules one import statement loads."""
    if isinstance(node, ast.Import):
        wanted = [a.name for a in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
            package = package[:len(package) - node.level + 1]
            base = ".".join(package + ([node.module] if node.module else []))
        # "from pkg import mod" loads pkg.mod; "from mod import name" loads mod
        wanted = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                  for a in node.names]
    found = set()
    for target in wanted:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != name:
            found.add(target)
    return found


@functools.lru_cache(maxsize=1)  # the sources do not change during a run: parse once
def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        graph[name] = set().union(*[_targets(name, path, node, modules)
                                    for node in ast.walk(tree)  # every level: lazy ones too
                                    if isinstance(node, (ast.Import, ast.ImportFrom))] or [set()])
    return graph


def circles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, edges = work[-1]
            w = next(edges, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = set()
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.add(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(frozenset(comp))
    return out


def test_the_circle_finder_finds_circles():
    """Checked on made-up graphs, so a finder that sees nothing cannot pass."""
    g = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e2"}, "e2": set()}
    assert circles(g) == [frozenset({"a", "b", "c"})]
    assert circles({"x": {"y"}, "y": set()}) == []


def test_lazy_and_relative_imports_are_seen(tmp_path):
    """An import inside a function and a relative one both make edges."""
    modules = {"pkg.a": tmp_path / "a.py", "pkg.b": tmp_path / "b.py", "pkg": tmp_path}
    tree = ast.parse("def f():\n    from .b import thing\n")
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom))
    assert _targets("pkg.a", tmp_path / "a.py", node, modules) == {"pkg.b"}
    graph = import_graph()
    assert "dimee_core.tokens" in graph["dimee_core.cli"]  # only imported inside a function


def test_the_core_has_no_import_circle():
    core = {k: {t for t in v if t.startswith("dimee_core")}
            for k, v in import_graph().items() if k.startswith("dimee_core")}
    assert circles(core) == []


def test_the_core_never_imports_the_dashboard():
    for name, targets in import_graph().items():
        if name.startswith("dimee_core"):
            assert not {t for t in targets if not t.startswith("dimee_core")}, name


def test_the_project_has_no_import_circle():
    assert circles(import_graph()) == []
