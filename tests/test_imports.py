"""The import graph of `gateway`, read from the source: no cycle, not even one only
a type checker follows (`if TYPE_CHECKING:`), and the layers' rules that
docs/ARCHITECTURE.md draws."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

import gateway

ROOT = Path(gateway.__file__).parent


@cache
def modules() -> dict[str, Path]:
    """Every module of `gateway` by its dotted name (a package by its own)."""
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imported(name: str) -> set[str]:
    """The gateway modules `name` imports."""
    path = modules()[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    return imports_in(path.read_text(), package, set(modules()))


def imports_in(source: str, package: str, known: set[str]) -> set[str]:
    """The `known` modules `source` (of a module in `package`) imports anywhere,
    TYPE_CHECKING blocks and function bodies included: `from a import b` names
    `a.b` when that is a module, else the package `a`."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            for alias in node.names:
                if f"{base}.{alias.name}" in known:
                    found.add(f"{base}.{alias.name}")
                elif base in known:
                    found.add(base)
    return found


@cache
def graph() -> dict[str, frozenset[str]]:
    return {name: frozenset(imported(name)) for name in modules()}


def cycles(edges: dict[str, frozenset[str]]) -> Iterator[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(node: str) -> Iterator[list[str]]:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(edges.get(node, ())):
            if other not in index:
                yield from visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in edges.get(node, ()):
                yield sorted(component)

    for node in sorted(edges):
        if node not in index:
            yield from visit(node)


def reaches(start: str) -> set[str]:
    """Every gateway module `start` imports, directly or through others."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for other in graph()[todo.pop()]:
            if other not in seen:
                seen.add(other)
                todo.append(other)
    return seen


def test_the_reader_finds_a_cycle_hidden_under_type_checking() -> None:
    known = {"p", "p.a", "p.b"}
    hidden = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from p.b import B\n"
    later = "def f():\n    from . import a\n"
    edges = {
        "p.a": frozenset(imports_in(hidden, "p", known)),
        "p.b": frozenset(imports_in(later, "p", known)),
    }
    assert edges == {"p.a": {"p.b"}, "p.b": {"p.a"}}
    assert list(cycles(edges)) == [["p.a", "p.b"]]


def test_no_module_of_the_gateway_imports_itself_back() -> None:
    assert list(cycles(graph())) == []


@pytest.mark.parametrize(
    ("layer", "above"),
    [
        ("gateway.events", "gateway.graphql"),
        ("gateway.feeds", "gateway.graphql"),
        ("gateway.feeds", "gateway.events"),
        ("gateway.settings", "gateway.graphql"),
        ("gateway.settings", "gateway.events"),
        ("gateway.settings", "gateway.websocket"),
    ],
)
def test_a_layer_never_reaches_one_above_it(layer: str, above: str) -> None:
    modules_of_layer = [name for name in modules() if name == layer or name.startswith(layer + ".")]
    for name in modules_of_layer:
        found = sorted(m for m in reaches(name) if m == above or m.startswith(above + "."))
        assert found == [], f"{name} reaches {found}"


def test_the_live_port_imports_only_the_upstream_layer() -> None:
    assert {m.split(".")[1] for m in imported("gateway.feeds")} <= {"studio"}
