"""What an operation can cost, read from its shape before anything runs.

`analyse` walks the chosen operation with every fragment expanded and returns
its depth, aliases, root fields, directives, and an upper bound on the
upstream calls it can make. What each field costs is declared on the field
(`policy.Price`, `@cost` and `@listSize` in the SDL); `CostTable` gathers it
from the schema. The bound follows the loaders' rules (docs/ARCHITECTURE.md):
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
from typing import Final

from graphql import (
    DocumentNode,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    OperationDefinitionNode,
    OperationType,
    get_named_type,
    introspection_types,
)

from gateway.graphql import ids
from gateway.graphql.connections import DEFAULT_FIRST, MAX_FIRST, decode_cursor, most_pages
from gateway.graphql.errors import GatewayError
from gateway.graphql.policy import FREE, ONE_CALL, SUMMARY, Price, Record, built, declared
from gateway.graphql.selection import Field, Fragment, OperationView, Selection, Variables, expand

#: Field nodes one analysis may visit: a fragment "bomb" must not cost us CPU.
MAX_VISITS: Final = 20_000

# The root fields that read the schema, and the introspection type each returns.
_INTROSPECTION_ROOTS: Final = {"__schema": "__Schema", "__type": "__Type"}

#: For a type: at most how many distinct objects of it the objects at one point
#: of the query belong to (their flow, their execution, themselves); and, under
#: `_missing(type)` and `_partial(type)`, how many of those owners the request
#: holds no record of yet, and how many only a list's summary of.
_Owners = dict[str, float]


def _missing(type_name: str) -> str:
    return f"{type_name}:missing"


def _partial(type_name: str) -> str:
    return f"{type_name}:partial"


@dataclass(frozen=True, slots=True)
class CostTable:
    """What the estimate knows of each field, gathered from the schema's declarations."""

    #: Each field's price (`policy.Price`), by its type and name.
    prices: dict[tuple[str, str], Price]
    #: The object types a field can return: one, or an interface's or union's members.
    children: dict[tuple[str, str], tuple[str, ...]]
    #: The fields that return an interface or a union.
    abstract: frozenset[tuple[str, str]]
    #: A connection's item type.
    items: dict[tuple[str, str], str]
    #: For each type, the fields that read its record, and those of them that read
    #: what the lists leave out.
    record: dict[str, frozenset[str]]
    whole: dict[str, frozenset[str]]
    #: The types with a global id (`node(id:)`).
    node_types: frozenset[str]
    #: For a node type, the node types every object of which belongs to one object
    #: of it (their ids' paths start with its own): an execution's steps, a flow's all.
    owned: dict[str, frozenset[str]]

    @classmethod
    def of(cls, schema: GraphQLSchema) -> CostTable:
        """The schema's table, built once and kept with it."""
        return built(schema, "cost", cls._build)

    @classmethod
    def _build(cls, schema: GraphQLSchema) -> CostTable:
        node_types = frozenset(name for name in ids.PATHS if name in schema.type_map)
        roots = {
            t.name for t in (schema.query_type, schema.mutation_type, schema.subscription_type) if t
        }
        prices: dict[tuple[str, str], Price] = {}
        children: dict[tuple[str, str], tuple[str, ...]] = {}
        abstract: set[tuple[str, str]] = set()
        items: dict[tuple[str, str], str] = {}
        record: dict[str, frozenset[str]] = {}
        whole: dict[str, frozenset[str]] = {}
        for type_name, named in schema.type_map.items():
            if not isinstance(named, GraphQLObjectType) or type_name.startswith("__"):
                continue
            reads: set[str] = set()
            reads_whole: set[str] = set()
            for field_name, definition in named.fields.items():
                key = (type_name, field_name)
                price = declared(definition).price
                if price is None:
                    # Undeclared: charged as dear as its kind can be, never free.
                    price = (
                        ONE_CALL
                        if type_name in roots
                        else SUMMARY
                        if type_name in node_types
                        else FREE
                    )
                prices[key] = price
                if price.record is not None:
                    reads.add(field_name)
                    if price.record is Record.WHOLE:
                        reads_whole.add(field_name)
                child = get_named_type(definition.type)
                if isinstance(child, GraphQLObjectType):
                    children[key] = (child.name,)
                    if price.list_size is not None:
                        items[key] = get_named_type(child.fields["nodes"].type).name
                elif isinstance(child, GraphQLInterfaceType | GraphQLUnionType):
                    children[key] = tuple(t.name for t in schema.get_possible_types(child))
                    abstract.add(key)
            record[type_name] = frozenset(reads)
            whole[type_name] = frozenset(reads_whole)
        owned = {
            owner: frozenset(
                t for t in node_types if ids.PATHS[t][: len(ids.PATHS[owner])] == ids.PATHS[owner]
            )
            for owner in node_types
        }
        return cls(prices, children, frozenset(abstract), items, record, whole, node_types, owned)

    def price(self, type_name: str, field_name: str) -> Price:
        return self.prices.get((type_name, field_name), FREE)


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
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Variables,
    view: OperationView | None = None,
) -> Shape:
    """The shape of `operation` (of `document`) with these coerced variable values.

    `view` is the operation's expanded view when the caller has it (the document
    cache keeps one per document); else it is built here.
    """
    if view is None:
        view = OperationView.build(schema, document, operation)
    walker = _Walker(schema, CostTable.of(schema), variables)
    shape = walker.shape
    shape.directives += len(operation.directives or ())
    if view is None:
        return shape  # no root for it: graphql-core reports it
    root = view.root.parent.name
    query = operation.operation is OperationType.QUERY
    data: list[Field] = []
    for root_field in walker.fields(view.root, None):
        if query and root_field.name in _INTROSPECTION_ROOTS:
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
    def __init__(self, schema: GraphQLSchema, table: CostTable, variables: Variables):
        self.schema = schema
        self.table = table
        self.variables = variables
        self.shape = Shape()

    # -- the view, every spread counted ---------------------------------------------

    def fields(self, selection: Selection | None, on: str | None) -> list[Field]:
        """The fields of a selection that run on an object of type `on` (None: any),
        fragments expanded: every spread counts."""
        if selection is None:
            return []
        found: list[Field] = []
        kind = self.schema.get_type(on) if on is not None else None
        for item in expand(selection, kind, self.variables, schema=self.schema, met=self._met):
            if isinstance(item, Field):
                self._count(item)
                found.append(item)
        return found

    def _met(self, item: Field | Fragment) -> None:
        self.shape.directives += item.directives

    def _count(self, field: Field) -> None:
        self.shape.visits += 1
        if self.shape.visits > MAX_VISITS:
            raise AnalysisTooLarge
        if field.node.alias is not None:
            self.shape.aliases += 1

    # -- introspection ----------------------------------------------------------

    def introspection(self, root: Field) -> None:
        """Measure a `__schema` or `__type` field: no upstream call, its own bound."""
        seen = self.shape.introspection
        if root.name == "__schema":
            seen.schema_fields += 1
        else:
            seen.type_fields += 1
        parent = introspection_types[_INTROSPECTION_ROOTS[root.name]]
        assert isinstance(parent, GraphQLObjectType)
        self.introspect(parent, root, int(parent.name == "__Type"), 0)

    def introspect(
        self, parent: GraphQLObjectType, field: Field, types: int, of_types: int
    ) -> None:
        """Walk below `field`, an introspection object of type `parent`.

        `types` counts the types on the path (`ofType` aside), `of_types` the `ofType`
        chain that reached this one.
        """
        seen = self.shape.introspection
        seen.type_nesting = max(seen.type_nesting, types)
        seen.of_type_depth = max(seen.of_type_depth, of_types)
        for child in self.fields(field.selection, None):
            seen.fields += 1
            definition = parent.fields.get(child.name)
            if definition is None:
                continue  # `__typename`, or a field validation has already refused
            child_type = get_named_type(definition.type)
            if not isinstance(child_type, GraphQLObjectType):
                continue  # a name, a kind, a flag: a leaf
            if child_type.name != "__Type":
                self.introspect(child_type, child, types, 0)
            elif child.name == "ofType":
                self.introspect(child_type, child, types, of_types + 1)
            else:
                self.introspect(child_type, child, types + 1, 0)

    # -- depth and cost -------------------------------------------------------

    def visit_root(self, root: str, field: Field) -> None:
        self.field(root, field, 1.0, 1, {})

    def dearest(
        self, types: tuple[str, ...], field: Field, count: float, depth: int, owners: _Owners
    ) -> None:
        """Charge the dearest of `types` the field may return, counting its selection once."""
        shape = self.shape
        before = (shape.cost, shape.aliases, shape.directives)
        worst = before
        for type_name in types:
            shape.cost, shape.aliases, shape.directives = before
            self.object(type_name, "fetched", field, count, depth, owners)
            now = (shape.cost, shape.aliases, shape.directives)
            worst = (max(worst[0], now[0]), max(worst[1], now[1]), max(worst[2], now[2]))
        shape.cost, shape.aliases, shape.directives = worst

    def field(self, parent: str, field: Field, count: float, depth: int, owners: _Owners) -> None:
        """Charge one field of `count` parent objects of type `parent`."""
        name = field.name
        key = (parent, name)
        self.shape.depth = max(self.shape.depth, depth)
        price = self.table.price(parent, name)
        item = self.table.items.get(key)
        if item is not None:
            self.connection(item, price, field, count, depth, owners)
            return
        if price.per_owner is None:
            self.shape.cost += count * price.weight  # else charged per owner (`object`)
        types = self.table.children.get(key, ())
        if key in self.table.abstract:
            # A field of an interface or union: `node(id:)` fetches what its id names.
            known = _node_type(field.arguments(self.variables).get("id"))
            if known in types:
                self.object(known, "fetched", field, count, depth, owners)
            else:
                self.dearest(types, field, count, depth, owners)
        elif types:
            self.object(types[0], "stub" if price.stub else "fetched", field, count, depth, owners)
        else:
            self.depth(field, depth)

    def object(
        self,
        type_name: str,
        origin: str,
        field: Field,
        count: float,
        depth: int,
        owners: _Owners,
    ) -> None:
        """Charge `count` objects of `type_name` that arrive `origin`: fetched, listed or stub."""
        table = self.table
        self.shape.depth = max(self.shape.depth, depth)
        children = self.fields(field.selection, type_name)
        names = {child.name for child in children}
        reads = bool(names & table.record.get(type_name, frozenset()))
        whole = bool(names & table.whole.get(type_name, frozenset()))
        if origin == "stub":
            # The parent of the objects above: one of the owners they share, the same
            # object (and the same loads, cached) however many of them ask for it.
            count = min(count, self._owner_bound(type_name, owners, count))
            missing = min(count, owners.get(_missing(type_name), count))
            partial = min(count, owners.get(_partial(type_name), count))
            if reads:
                # A summary comes from the list that named the object, if one did.
                self.shape.cost += partial if whole else missing
                missing = 0.0
                if whole:
                    partial = 0.0
        else:
            # A fetched or listed object holds its record, and primes its loader.
            if origin == "listed" and whole:
                self.shape.cost += count  # the whole object, once, for what the list left out
            missing = 0.0
            partial = count if origin == "listed" and not whole else 0.0
        below = {**owners, type_name: count, _missing(type_name): missing}
        below[_partial(type_name)] = partial
        charged: set[Price] = set()
        for child in children:
            price = table.price(type_name, child.name)
            if price.per_owner is None or price in charged:
                continue
            # Loaded once per owning object, from that owner's record.
            charged.add(price)
            owner = price.per_owner
            owning = min(count, below.get(owner, count))
            unread = min(owning, below.get(_missing(owner), owning))
            self.shape.cost += owning * price.weight + unread
        for child in children:
            self.field(type_name, child, count, depth + 1, below)

    def connection(
        self,
        item_type: str,
        price: Price,
        field: Field,
        count: float,
        depth: int,
        owners: _Owners,
    ) -> None:
        args = field.arguments(self.variables)
        first = args.get("first")
        assumed = price.list_size or DEFAULT_FIRST
        items = first if isinstance(first, int) and 1 <= first <= MAX_FIRST else assumed
        self.shape.cost += _pages(items, args.get("after")) * count * price.weight
        for child in self.fields(field.selection, None):
            self.shape.depth = max(self.shape.depth, depth + 1)
            nodes: list[Field] = []
            if child.name == "nodes":
                nodes = [child]
            elif child.name == "edges":
                nodes = [e for e in self.fields(child.selection, None) if e.name == "node"]
                self.shape.depth = max(self.shape.depth, depth + 2)
            extra = 1 if child.name == "edges" else 0
            for node in nodes:
                self.object(item_type, "listed", node, count * items, depth + 1 + extra, owners)

    def depth(self, field: Field, depth: int) -> None:
        self.shape.depth = max(self.shape.depth, depth)
        for child in self.fields(field.selection, None):
            self.depth(child, depth + 1)

    def _owner_bound(self, type_name: str, owners: _Owners, count: float) -> float:
        """At most how many distinct `type_name` objects own the objects at this point:
        each object here belongs to one, and so does each object above it that it owns."""
        owned = self.table.owned.get(type_name, frozenset({type_name}))
        return min([count, *(v for k, v in owners.items() if k in owned)])


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
