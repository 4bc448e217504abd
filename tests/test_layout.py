"""The layout's rules, kept true: imports point down the pipeline (wire → canonical → rows →
diagnosis → pages), so the module import graph of traceview/, ingest/ and the SDK has no cycle,
counting imports inside functions; traceview/ never imports ingest/ except the root URLs; code
inside traceview/ takes its models from their capability, not from the traceview.models
re-export; and the classifier's shared pieces know nothing of the individual rules.

Static (ast), so it runs in milliseconds and sees imports that a run would never execute. An
edge is an explicit import: `from a.b import c` is an edge to the module a.b.c when there is
one, else to a.b; the parent packages Python initialises on the way are not edges.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ROOTS = {
    "traceview": REPO / "traceview",
    "ingest": REPO / "ingest",
    "traceview_sdk": REPO / "sdk" / "src" / "traceview_sdk",
}


@cache
def modules() -> dict[str, Path]:
    found = {}
    for package, folder in ROOTS.items():
        for path in folder.rglob("*.py"):
            parts = [package, *path.relative_to(folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _resolve(name: str) -> str | None:
    """The module an imported dotted name lives in: the longest prefix that is one of ours."""
    known = modules()
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


@cache
def import_graph() -> dict[str, frozenset[str]]:
    known = modules()
    graph = {}
    for module, path in known.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(_resolve(alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in node.names:
                    target = f"{base}.{alias.name}"
                    targets.add(target if target in known else _resolve(base))
        targets.discard(None)
        targets.discard(module)
        graph[module] = frozenset(targets)
    return graph


def _cycles(graph: dict[str, frozenset[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def test_it_finds_every_package():
    graph = import_graph()
    for module in ("traceview.core.models", "traceview.classify.diagnosis", "ingest.store",
                   "traceview_sdk.record"):
        assert module in graph
    # The walk sees imports inside functions: ingest enqueues classification from one.
    assert "traceview.classify.tasks" in graph["ingest.store"]


def test_it_has_no_import_cycle():
    cycles = _cycles(import_graph())
    assert not cycles, "import cycles (break them; an import inside a function counts):\n" + (
        "\n".join(" <-> ".join(c) for c in cycles)
    )


def test_it_never_imports_ingest_from_traceview_but_in_the_root_urls():
    wrong = {
        module: sorted(t for t in targets if t.partition(".")[0] == "ingest")
        for module, targets in import_graph().items()
        if module.partition(".")[0] == "traceview" and module != "traceview.urls"
    }
    assert not {m: t for m, t in wrong.items() if t}


def test_it_takes_models_from_their_capability_inside_traceview():
    # traceview.models re-exports every model for Django and outside callers; inside, importing
    # it would make every module depend on every capability's models.
    importers = sorted(
        module for module, targets in import_graph().items()
        if module.startswith("traceview.") and "traceview.models" in targets
    )
    assert importers == []


def test_it_keeps_the_rules_out_of_the_classifiers_shared_pieces():
    graph = import_graph()
    for shared in ("traceview.classify.base", "traceview.classify.helpers"):
        ours = {t for t in graph[shared] if t.startswith("traceview.")}
        assert ours <= {"traceview.classify.helpers", "traceview.core.trace"}, (shared, ours)
