"""What an operation can cost, read from its shape before anything runs.

`analyse` walks the chosen operation with every fragment expanded and returns
its depth, aliases, root fields, directives, and an upper bound on the
upstream calls it can make. The bound follows the loaders' rules (DESIGN.md):
one call per object fetch, one per upstream page a connection needs (`first`
items in pages of the size its first request chose), multiplied through
nested lists by their `first`. De-duplication across the query only makes the
real count smaller, so the estimate is never below it.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from typing import Any, Final

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    value_from_ast_untyped,
)

from gateway.graphql.connections import DEFAULT_FIRST, MAX_FIRST

#: Field nodes one analysis may visit: a fragment "bomb" must not cost us CPU.
MAX_VISITS: Final = 20_000

# Fields an object answers from what its parent already holds.
_FREE: Final = frozenset({"__typename", "id", "sid", "flowSid", "executionSid"})
# Fields the Flows and Revisions lists leave out: reading one fetches the object.
_ABRIDGED: Final = frozenset(
    {"definition", "widgets", "commitMessage", "valid", "errors", "warnings"}
)
# Relations, by parent type: (child type, how the child arrives).
_RELATIONS: Final[dict[tuple[str, str], tuple[str, str]]] = {
    ("Query", "flow"): ("Flow", "fetched"),
    ("Query", "execution"): ("Execution", "fetched"),
    ("Query", "executionStep"): ("ExecutionStep", "fetched"),
    ("Query", "validateFlow"): ("FlowValidation", "fetched"),
    ("Flow", "flowRevision"): ("FlowRevision", "fetched"),
    ("FlowRevision", "flow"): ("Flow", "stub"),
    ("Execution", "flow"): ("Flow", "stub"),
    ("Execution", "flowRevision"): ("FlowRevision", "fetched"),
    ("ExecutionStep", "execution"): ("Execution", "stub"),
    ("ExecutionStep", "flow"): ("Flow", "stub"),
    ("ExecutionStep", "parentStep"): ("ExecutionStep", "fetched"),
}
_CONNECTIONS: Final[dict[tuple[str, str], str]] = {
    ("Query", "flows"): "Flow",
    ("Flow", "revisions"): "FlowRevision",
    ("Flow", "executions"): "Execution",
    ("Execution", "steps"): "ExecutionStep",
}
# A field that costs one call per parent object, whatever else it selects.
_ONE_CALL: Final[frozenset[tuple[str, str]]] = frozenset(
    {
        ("Query", "flow"),
        ("Query", "execution"),
        ("Query", "executionStep"),
        ("Query", "node"),
        ("Query", "validateFlow"),
        ("Flow", "testUsers"),
        ("Flow", "flowRevision"),
        ("Execution", "context"),
        ("Execution", "flowRevision"),
        ("ExecutionStep", "context"),
        ("ExecutionStep", "parentStep"),
    }
)
_MUTATIONS: Final[dict[str, tuple[str, str]]] = {
    "createExecution": ("Execution", "fetched"),
    "endExecution": ("Execution", "fetched"),
    "createFlow": ("Flow", "fetched"),
    "updateFlow": ("Flow", "fetched"),
    "updateFlowTestUsers": ("Flow", "stub"),
}


_Ancestors = dict[str, float]


class AnalysisTooLarge(Exception):
    """The expanded operation is larger than any real query."""


@dataclass
class Shape:
    depth: int = 0
    aliases: int = 0
    root_fields: int = 0
    directives: int = 0
    cost: float = 0.0
    visits: int = 0


def analyse(
    document: DocumentNode, operation_name: str | None, variables: dict[str, Any] | None
) -> Shape:
    operation = _operation(document, operation_name)
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    walker = _Walker(fragments, variables or {})
    shape = walker.shape
    shape.directives += len(operation.directives or ())
    root = "Mutation" if operation.operation.value == "mutation" else "Query"
    fields = walker.fields(operation.selection_set, ())
    shape.root_fields = len(fields)
    for field in fields:
        walker.visit_root(root, field)
    shape.cost = math.ceil(shape.cost)
    return shape


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    for operation in operations:
        if name is None or (operation.name and operation.name.value == name):
            return operation
    raise ValueError("no such operation in the document")


class _Walker:
    def __init__(self, fragments: dict[str, FragmentDefinitionNode], variables: dict[str, Any]):
        self.fragments = fragments
        self.variables = variables
        self.shape = Shape()

    # -- expanding fragments --------------------------------------------------

    def fields(
        self, selection_set: SelectionSetNode | None, stack: tuple[str, ...]
    ) -> list[FieldNode]:
        """The fields of a selection set with fragments expanded (every spread counts)."""
        found: list[FieldNode] = []
        for selection in selection_set.selections if selection_set else ():
            self.shape.directives += len(selection.directives or ())
            if isinstance(selection, FieldNode):
                self._count(selection)
                found.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                found.extend(self.fields(selection.selection_set, stack))
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in stack:
                    continue  # validation reports unknown fragments and cycles
                self.shape.directives += len(fragment.directives or ())
                found.extend(self.fields(fragment.selection_set, (*stack, name)))
        return found

    def _count(self, field: FieldNode) -> None:
        self.shape.visits += 1
        if self.shape.visits > MAX_VISITS:
            raise AnalysisTooLarge
        if field.alias is not None:
            self.shape.aliases += 1

    # -- depth and cost -------------------------------------------------------

    def visit_root(self, root: str, field: FieldNode) -> None:
        name = field.name.value
        if root == "Mutation":
            self.shape.cost += 1
            child = _MUTATIONS.get(name)
            if child is not None:
                self.object(child[0], child[1], field, 1.0, 1, {})
            else:
                self.depth(field, 1)
            return
        if name == "node":
            self.shape.cost += 1
            # The id decides the type; charge the dearest branch.
            before = self.shape.cost
            worst = 0.0
            for type_name in ("Flow", "FlowRevision", "Execution", "ExecutionStep"):
                self.shape.cost = before
                self.object(type_name, "fetched", field, 1.0, 1, {})
                worst = max(worst, self.shape.cost - before)
            self.shape.cost = before + worst
            return
        self.field("Query", field, 1.0, 1, {})

    def field(
        self, parent: str, field: FieldNode, count: float, depth: int, ancestors: _Ancestors
    ) -> None:
        """Charge one field of `count` parent objects of type `parent`."""
        name = field.name.value
        self.shape.depth = max(self.shape.depth, depth)
        if (parent, name) in _CONNECTIONS:
            self.connection(_CONNECTIONS[(parent, name)], field, count, depth, ancestors)
            return
        if (parent, name) in _ONE_CALL:
            self.shape.cost += count
        relation = _RELATIONS.get((parent, name))
        if relation is not None:
            self.object(relation[0], relation[1], field, count, depth, ancestors)
        else:
            self.depth(field, depth)

    def object(
        self,
        type_name: str,
        origin: str,
        field: FieldNode,
        count: float,
        depth: int,
        ancestors: _Ancestors,
    ) -> None:
        self.shape.depth = max(self.shape.depth, depth)
        children = self.fields(field.selection_set, ())
        names = {child.name.value for child in children}
        # Every object below a Flow (or an Execution) belongs to that same one: a
        # stub of it is fetched at most once per ancestor, not once per item.
        per = ancestors.get(type_name, count)
        if origin == "stub" and names - _FREE:
            self.shape.cost += min(per, count)
        elif origin == "listed" and type_name in ("Flow", "FlowRevision") and names & _ABRIDGED:
            self.shape.cost += count  # the whole object, once, for what the list left out
        if type_name == "ExecutionStep" and names & {"fromWidget", "toWidget"}:
            # The execution's record, then the revision it ran on.
            self.shape.cost += 2 * min(ancestors.get("Execution", count), count)
        below = {**ancestors, type_name: min(per, count)}
        for child in children:
            self.field(type_name, child, count, depth + 1, below)

    def connection(
        self, item_type: str, field: FieldNode, count: float, depth: int, ancestors: _Ancestors
    ) -> None:
        args = self.arguments(field)
        first = args.get("first")
        items = first if isinstance(first, int) and 1 <= first <= MAX_FIRST else DEFAULT_FIRST
        pages = 1
        after = args.get("after")
        if isinstance(after, str):
            size = _cursor_page_size(after) or 1
            pages = math.ceil(items / size) + 1
        self.shape.cost += pages * count
        for child in self.fields(field.selection_set, ()):
            self.shape.depth = max(self.shape.depth, depth + 1)
            nodes: list[FieldNode] = []
            if child.name.value == "nodes":
                nodes = [child]
            elif child.name.value == "edges":
                nodes = [e for e in self.fields(child.selection_set, ()) if e.name.value == "node"]
                self.shape.depth = max(self.shape.depth, depth + 2)
            extra = 1 if child.name.value == "edges" else 0
            for node in nodes:
                self.object(item_type, "listed", node, count * items, depth + 1 + extra, ancestors)

    def depth(self, field: FieldNode, depth: int) -> None:
        self.shape.depth = max(self.shape.depth, depth)
        for child in self.fields(field.selection_set, ()):
            self.depth(child, depth + 1)

    def arguments(self, field: FieldNode) -> dict[str, Any]:
        return {
            arg.name.value: value_from_ast_untyped(arg.value, self.variables)
            for arg in field.arguments or ()
        }


def _cursor_page_size(cursor: str) -> int | None:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        size = int(data["p"].get("PageSize", 50))
    except (binascii.Error, ValueError, KeyError, TypeError, AttributeError):
        return None
    return size if 1 <= size <= MAX_FIRST else None
