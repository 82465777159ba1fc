"""What an operation can cost, read from its shape before anything runs.

`analyse` walks the chosen operation with every fragment expanded and returns
its depth, aliases, root fields, directives, and an upper bound on the
upstream calls it can make. The bound follows the loaders' rules (docs/ARCHITECTURE.md):
one call per object fetch, one per upstream page a connection needs
(`connections.most_pages`, the rule `paginate` follows), multiplied through
nested lists by their `first`. Variables must be the values execution will
use: coerced, the operation's defaults filled in (`limits.estimate`).
De-duplication across the query only makes the real count smaller, so the
estimate is never below it.

Multiplying through lists alone would overcharge what many items share: every
object below an execution belongs to that one execution and its one flow. So
the walk carries, for each point of the query, its *owners*: at most how many
distinct flows (and executions) the objects there belong to. A parent reached
from many children (`step.execution`, `execution.flow`) is charged, with all
it selects, once per owner, not once per child. A successful load is cached
for the request, so that is what the loaders do.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Final

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    InlineFragmentNode,
    NamedTypeNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    introspection_types,
    value_from_ast_untyped,
)

from gateway.graphql import ids
from gateway.graphql.connections import DEFAULT_FIRST, MAX_FIRST, decode_cursor, most_pages
from gateway.graphql.errors import GatewayError

#: Field nodes one analysis may visit: a fragment "bomb" must not cost us CPU.
MAX_VISITS: Final = 20_000

# Fields a parent-only object (a stub: `step.execution`, `execution.flow`) answers
# without loading its own record: what it was made from, or what has a loader of its own.
_NO_RECORD: Final[dict[str, frozenset[str]]] = {
    "Flow": frozenset(
        {"__typename", "id", "sid", "testUsers", "revisions", "flowRevision", "executions"}
    ),
    "Execution": frozenset({"__typename", "id", "sid", "flowSid", "context", "flow", "steps"}),
}
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
_ROOTS: Final = {"mutation": "Mutation", "subscription": "Subscription"}
# What each update of a subscription can be: priced as the dearest, once per update
# (the past's Steps list, or a fetch, is the one call charged for the field itself).
_SUBSCRIPTIONS: Final[dict[str, tuple[str, ...]]] = {
    "executionUpdates": ("ExecutionStep", "Execution"),
    "flowExecutions": ("Execution",),
}
# The root fields that read the schema, and the introspection type each returns.
_INTROSPECTION_ROOTS: Final = {"__schema": "__Schema", "__type": "__Type"}
_NODE_TYPES: Final = tuple(ids.PATHS)
_TYPES: Final = frozenset(_NODE_TYPES)
# Keys of `_Owners` beside the type names: of the owning flows (executions), how
# many the request holds no record of yet, and how many only an abridged one.
_MISSING: Final = {"Flow": "Flow:missing", "Execution": "Execution:missing"}
_PARTIAL: Final = {"Flow": "Flow:partial"}

#: For a type: at most how many distinct objects of it the objects at one point
#: of the query belong to (their flow, their execution, themselves); see _MISSING.
_Owners = dict[str, float]


class UnknownOperation(ValueError):
    """The document has no operation of that name; graphql-core reports it."""


class AnalysisTooLarge(Exception):
    """The expanded operation is larger than any real query."""


@dataclass
class Introspection:
    """The shape of an operation's introspection part (`__schema`, `__type`)."""

    #: `__schema` fields, aliases and fragments counted.
    schema_fields: int = 0
    #: `__type(name:)` fields.
    type_fields: int = 0
    #: The longest chain of `ofType` in one another.
    of_type_depth: int = 0
    #: The most types on one path, `ofType` aside: `types { fields { type } }` is 2.
    type_nesting: int = 0
    #: Fields selected under them, with fragments expanded.
    fields: int = 0


@dataclass
class Shape:
    """What `analyse` found: the data part's shape and cost, and the introspection part's."""

    depth: int = 0
    aliases: int = 0
    root_fields: int = 0
    directives: int = 0
    cost: float = 0.0
    visits: int = 0
    introspection: Introspection = dataclasses.field(default_factory=Introspection)


def analyse(
    document: DocumentNode, operation: OperationDefinitionNode, variables: dict[str, Any]
) -> Shape:
    """The shape of `operation` (of `document`) with these coerced variable values."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    walker = _Walker(fragments, variables)
    shape = walker.shape
    shape.directives += len(operation.directives or ())
    root = _ROOTS.get(operation.operation.value, "Query")
    data: list[FieldNode] = []
    for root_field in walker.fields(operation.selection_set, ()):
        if root == "Query" and root_field.name.value in _INTROSPECTION_ROOTS:
            walker.introspection(root_field)
        else:
            data.append(root_field)
    shape.root_fields = len(data)
    for root_field in data:
        walker.visit_root(root, root_field)
    shape.cost = math.ceil(shape.cost)
    return shape


def operation_of(document: DocumentNode, name: str | None) -> OperationDefinitionNode:
    """The operation execution will run; UnknownOperation when there is no such one."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    for operation in operations:
        if name is None or (operation.name and operation.name.value == name):
            return operation
    raise UnknownOperation("no such operation in the document")


class _Walker:
    def __init__(self, fragments: dict[str, FragmentDefinitionNode], variables: dict[str, Any]):
        self.fragments = fragments
        self.variables = variables
        self.shape = Shape()

    # -- expanding fragments --------------------------------------------------

    def fields(
        self,
        selection_set: SelectionSetNode | None,
        stack: tuple[str, ...],
        on: str | None = None,
    ) -> list[FieldNode]:
        """The fields of a selection set with fragments expanded (every spread counts).

        With `on`, a fragment on another object type is left out: it cannot apply.
        """
        found: list[FieldNode] = []
        for selection in selection_set.selections if selection_set else ():
            self.shape.directives += len(selection.directives or ())
            if isinstance(selection, FieldNode):
                self._count(selection)
                found.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                if _applies(selection.type_condition, on):
                    found.extend(self.fields(selection.selection_set, stack, on))
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in stack:
                    continue  # validation reports unknown fragments and cycles
                if not _applies(fragment.type_condition, on):
                    continue
                self.shape.directives += len(fragment.directives or ())
                found.extend(self.fields(fragment.selection_set, (*stack, name), on))
        return found

    def _count(self, field: FieldNode) -> None:
        self.shape.visits += 1
        if self.shape.visits > MAX_VISITS:
            raise AnalysisTooLarge
        if field.alias is not None:
            self.shape.aliases += 1

    # -- introspection ----------------------------------------------------------

    def introspection(self, root: FieldNode) -> None:
        """Measure a `__schema` or `__type` field: no upstream call, its own bound."""
        seen = self.shape.introspection
        if root.name.value == "__schema":
            seen.schema_fields += 1
        else:
            seen.type_fields += 1
        parent = introspection_types[_INTROSPECTION_ROOTS[root.name.value]]
        assert isinstance(parent, GraphQLObjectType)
        self.introspect(parent, root, int(parent.name == "__Type"), 0)

    def introspect(
        self, parent: GraphQLObjectType, field: FieldNode, types: int, of_types: int
    ) -> None:
        """Walk below `field`, an introspection object of type `parent`.

        `types` counts the types on the path (`ofType` aside), `of_types` the `ofType`
        chain that reached this one.
        """
        seen = self.shape.introspection
        seen.type_nesting = max(seen.type_nesting, types)
        seen.of_type_depth = max(seen.of_type_depth, of_types)
        for child in self.fields(field.selection_set, ()):
            seen.fields += 1
            definition = parent.fields.get(child.name.value)
            if definition is None:
                continue  # `__typename`, or a field validation has already refused
            child_type = get_named_type(definition.type)
            if not isinstance(child_type, GraphQLObjectType):
                continue  # a name, a kind, a flag: a leaf
            if child_type.name != "__Type":
                self.introspect(child_type, child, types, 0)
            elif child.name.value == "ofType":
                self.introspect(child_type, child, types, of_types + 1)
            else:
                self.introspect(child_type, child, types + 1, 0)

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
            self.node(field)
            return
        if root == "Subscription":
            self.shape.cost += 1
            self.dearest(field, _SUBSCRIPTIONS.get(name, ()))
            return
        self.field("Query", field, 1.0, 1, {})

    def node(self, field: FieldNode) -> None:
        self.shape.cost += 1
        known = _node_type(self.arguments(field).get("id"))
        if known is not None:
            self.object(known, "fetched", field, 1.0, 1, {})
            return
        # The id does not say (or is not ours, and fails before any call).
        self.dearest(field, _NODE_TYPES)

    def dearest(self, field: FieldNode, types: tuple[str, ...]) -> None:
        """Charge the dearest of `types` the field may return, counting its selection once."""
        if not types:
            self.depth(field, 1)
            return
        shape = self.shape
        before = (shape.cost, shape.aliases, shape.directives)
        worst = before
        for type_name in types:
            shape.cost, shape.aliases, shape.directives = before
            self.object(type_name, "fetched", field, 1.0, 1, {})
            now = (shape.cost, shape.aliases, shape.directives)
            worst = (max(worst[0], now[0]), max(worst[1], now[1]), max(worst[2], now[2]))
        shape.cost, shape.aliases, shape.directives = worst

    def field(
        self, parent: str, field: FieldNode, count: float, depth: int, owners: _Owners
    ) -> None:
        """Charge one field of `count` parent objects of type `parent`."""
        name = field.name.value
        self.shape.depth = max(self.shape.depth, depth)
        if (parent, name) in _CONNECTIONS:
            self.connection(_CONNECTIONS[(parent, name)], field, count, depth, owners)
            return
        if (parent, name) in _ONE_CALL:
            self.shape.cost += count
        relation = _RELATIONS.get((parent, name))
        if relation is not None:
            self.object(relation[0], relation[1], field, count, depth, owners)
        else:
            self.depth(field, depth)

    def object(
        self,
        type_name: str,
        origin: str,
        field: FieldNode,
        count: float,
        depth: int,
        owners: _Owners,
    ) -> None:
        """Charge `count` objects of `type_name` that arrive `origin`: fetched, listed or stub."""
        self.shape.depth = max(self.shape.depth, depth)
        children = self.fields(field.selection_set, (), on=type_name)
        names = {child.name.value for child in children}
        reads = bool(names - _NO_RECORD.get(type_name, frozenset()))
        whole = bool(names & _ABRIDGED)
        if origin == "stub":
            # The parent of the objects above: one of the owners they share, the same
            # object (and the same loads, cached) however many of them ask for it.
            count = min(count, _owner_bound(type_name, owners, count))
            missing = min(count, owners.get(_MISSING.get(type_name, ""), count))
            partial = min(count, owners.get(_PARTIAL.get(type_name, ""), count))
            if reads:
                # A flow's summary comes from the list that named it, if one did.
                self.shape.cost += partial if whole else missing
                missing = 0.0
                if whole:
                    partial = 0.0
        else:
            # A fetched or listed object holds its record, and primes its loader.
            if origin == "listed" and type_name in ("Flow", "FlowRevision") and whole:
                self.shape.cost += count  # the whole object, once, for what the list left out
            missing = 0.0
            partial = count if origin == "listed" and not whole else 0.0
        below = {**owners, type_name: count}
        if type_name in _MISSING:
            below[_MISSING[type_name]] = missing
        if type_name in _PARTIAL:
            below[_PARTIAL[type_name]] = partial
        if type_name == "ExecutionStep" and names & {"fromWidget", "toWidget"}:
            # The revision each execution ran on, read from that execution's record.
            executions = min(count, below.get("Execution", count))
            unread = min(executions, below.get(_MISSING["Execution"], executions))
            self.shape.cost += executions + unread
        for child in children:
            self.field(type_name, child, count, depth + 1, below)

    def connection(
        self, item_type: str, field: FieldNode, count: float, depth: int, owners: _Owners
    ) -> None:
        args = self.arguments(field)
        first = args.get("first")
        items = first if isinstance(first, int) and 1 <= first <= MAX_FIRST else DEFAULT_FIRST
        self.shape.cost += _pages(items, args.get("after")) * count
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
                self.object(item_type, "listed", node, count * items, depth + 1 + extra, owners)

    def depth(self, field: FieldNode, depth: int) -> None:
        self.shape.depth = max(self.shape.depth, depth)
        for child in self.fields(field.selection_set, ()):
            self.depth(child, depth + 1)

    def arguments(self, field: FieldNode) -> dict[str, Any]:
        return {
            arg.name.value: value_from_ast_untyped(arg.value, self.variables)
            for arg in field.arguments or ()
        }


def _owner_bound(type_name: str, owners: _Owners, count: float) -> float:
    """At most how many distinct `type_name` objects own the objects at this point."""
    if type_name == "Flow":
        # Every relation stays inside one flow: each owner of any type has one.
        return min([count, *(v for k, v in owners.items() if k in _TYPES)])
    return owners.get(type_name, count)


def _applies(condition: NamedTypeNode | None, on: str | None) -> bool:
    """Whether a fragment on `condition` can apply to an object of type `on`."""
    if condition is None or on is None:
        return True
    name = condition.name.value
    return name == on or name not in _NODE_TYPES


def _node_type(global_id: object) -> str | None:
    """The type a `node(id:)` will fetch, when the id says; None when it cannot."""
    if not isinstance(global_id, str):
        return None
    try:
        type_name, _ = ids.decode(global_id)
    except (GatewayError, ValueError):
        return None
    return type_name


def _pages(items: int, after: object) -> int:
    """Upstream pages for `items` items after the cursor `after` (none: from the start)."""
    if not isinstance(after, str):
        return most_pages(items, None)
    try:
        cursor = decode_cursor(after)
    except GatewayError:
        return 1  # refused before any call; charged as a first page
    return most_pages(items, cursor)
