"""Which scopes reading each field needs, and the check that applies it to a whole document.

Each field declares what it needs where it is defined (`policy.Scopes`, shown
as `@requiresScopes` in the SDL), and `ScopeTable` gathers that from the schema
at start-up: a field of `Flow` or `FlowRevision` needs `flows:read`, a field of
`Execution` or `ExecutionStep` `executions:read`, a few need more (`pii:read`
for phone numbers, identities and contexts; the other family's scope for a
relation into it), and the identity of an object needs nothing: a caller that
just changed or created an object may always learn which one it was.

`CheckScopes` walks the chosen operation once per document, before anything
executes, with every fragment (inline or named, on an object type or on
`Node`) expanded and aliases seen through, and refuses with `FORBIDDEN` an
operation that reads a field its caller lacks a scope for:

- a mutation, whatever it reads: it never runs half, and a write scope never
  reads the object it returns;
- a query, only where nothing on the way checks first. The scope checks that
  run at execution (the fields' permission classes, and `node(id:)` for the
  type it fetches) null their field with `FORBIDDEN` and run nothing below it,
  so the rest of a query still answers; a field that no such check guards is
  refused here, whatever path it was reached by.

The walk reads the operation's expanded view (`selection.OperationView`), the
one every check reads. What a document needs depends only on its text and
operation, so it is worked out once and kept with that view in the document
cache; each request then compares it with its caller's scopes. A field counts
unless a literal `@skip`/`@include` drops it (the variables are not known).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    OperationType,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.utilities import get_operation_ast
from strawberry.extensions import SchemaExtension

from gateway.graphql.documents import view_of
from gateway.graphql.errors import Code, GatewayError
from gateway.graphql.internals import core_schema, field_definition
from gateway.graphql.policy import built, declared
from gateway.graphql.selection import Field, OperationView, Selection, applies, included
from gateway.security.principal import SCOPES, principal_of

# -- the table ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScopeTable:
    """What each field of a schema needs, from what its fields declare (`policy.Scopes`)."""

    #: The scopes each field that declared its scopes needs.
    fields: dict[tuple[str, str], frozenset[str]]
    #: The scope reading an object of a type needs: the one the way to each of its
    #: fields checked, that it does not check itself (`node(id:)` checks it).
    types: dict[str, str]

    @classmethod
    def of(cls, schema: GraphQLSchema) -> ScopeTable:
        """The schema's table, built once and kept with it."""
        return built(schema, "scopes", cls._build)

    @classmethod
    def _build(cls, schema: GraphQLSchema) -> ScopeTable:
        fields: dict[tuple[str, str], frozenset[str]] = {}
        types: dict[str, str] = {}
        for type_name, named in schema.type_map.items():
            if not isinstance(named, GraphQLObjectType) or type_name.startswith("__"):
                continue
            shared: frozenset[str] | None = None
            for field_name, definition in named.fields.items():
                scopes = declared(definition).scopes
                if scopes is None:
                    continue
                fields[(type_name, field_name)] = scopes.required
                reached_with = scopes.required - scopes.checked
                if reached_with:
                    shared = reached_with if shared is None else shared & reached_with
            if shared is not None and len(shared) == 1:
                types[type_name] = next(iter(shared))
        return cls(fields, types)

    def needs(self, type_name: str, field_name: str) -> frozenset[str]:
        """The scopes reading `type_name.field_name` needs (none: free to read once reached).

        A field that declared nothing on a type whose data needs a scope needs that
        scope: a field added without a declaration is never free. A type whose
        fields need nothing (a connection, `PageInfo`, `Widget`) adds none: the
        field that leads to it already needed what its contents do.
        """
        scopes = self.fields.get((type_name, field_name))
        if scopes is not None:
            return scopes
        scope = self.types.get(type_name)
        return frozenset({scope}) if scope is not None else frozenset()

    def read_scope(self, type_name: str) -> str:
        """The scope that reading an object of `type_name` needs (`node(id:)` checks it)."""
        return self.types[type_name]


def checked_at_execution(field: GraphQLField) -> frozenset[str]:
    """The scopes a field's permission classes check before its resolver runs."""
    definition = field_definition(field)
    classes = getattr(definition, "permission_classes", None) or ()
    return frozenset(scope for c in classes if isinstance(scope := getattr(c, "scope", None), str))


# -- what a document needs --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Need:
    """A field of the document that needs `scopes`, reached through checks of `checked`.

    `checked` holds the scopes that execution checks on the way to the field (its
    own included): when the caller lacks one of them, a check nulls the field or
    one above it before it runs. `path` is its response keys (aliases) from the root.
    """

    scopes: frozenset[str]
    checked: frozenset[str]
    path: tuple[str, ...]
    node: FieldNode


@dataclass(frozen=True, slots=True)
class DocumentAccess:
    """What one operation of a document reads, for any caller."""

    mutation: bool
    fields: tuple[Need, ...]

    def refusals(self, held: frozenset[str]) -> list[GraphQLError]:
        """One FORBIDDEN error per scope the caller lacks, naming the first field that needs it."""
        found: dict[str, GraphQLError] = {}
        for need in self.fields:
            if not self.mutation and not need.checked <= held:
                continue  # a check on the way nulls it at execution; the rest answers
            for scope in sorted(need.scopes - held):
                if scope not in found:
                    found[scope] = _forbidden(scope, need)
        return list(found.values())


def _forbidden(scope: str, need: Need) -> GraphQLError:
    path = ".".join(need.path)
    return GatewayError(
        f"`{path}` needs the {scope} scope; the operation was refused before it ran",
        Code.FORBIDDEN,
        requiredScope=scope,
        fieldPath=path,
    ).as_graphql_error(need.node)


def analyse(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    view: OperationView | None = None,
) -> DocumentAccess | None:
    """What the chosen operation reads; None when the document has no such operation.

    `view` is the operation's expanded view when the caller has it; else it is
    built here.
    """
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return None  # graphql-core reports it
    if view is None:
        view = OperationView.build(schema, document, operation)
    if view is None:
        return None
    walk = _Walk(schema, ScopeTable.of(schema))
    found = walk.selections(view.root, frozenset(), by_type=False)
    return DocumentAccess(operation.operation is OperationType.MUTATION, found)


def access_of(
    schema: GraphQLSchema, document: DocumentNode, view: OperationView
) -> DocumentAccess | None:
    """What the view's operation reads, worked out once and kept with the view."""
    if "access" not in view.memo:
        name = view.operation.name.value if view.operation.name is not None else None
        view.memo["access"] = analyse(schema, document, name, view)
    found: DocumentAccess | None = view.memo["access"]
    return found


_MemoKey = tuple[int, frozenset[str], bool]


class _Walk:
    """Every field of an operation with what it needs, from its expanded view.

    Each selection set keeps one field per distinct (scopes, checked) pair, the first
    in document order, and is walked once per context: a fragment spread many times
    (a "fragment bomb") costs its size once, not once per spread. With the variables
    unknown, a field counts whether or not `@skip`/`@include` on a variable drops it.
    """

    def __init__(self, schema: GraphQLSchema, table: ScopeTable):
        self.schema = schema
        self.table = table
        self.memo: dict[_MemoKey, tuple[Need, ...]] = {}

    def selections(
        self, selection: Selection, checked: frozenset[str], *, by_type: bool
    ) -> tuple[Need, ...]:
        """The needs of a selection, paths relative to it.

        `by_type`: the object here was fetched by a resolver that checked the scope
        of its type (`node(id:)`), so fields on a type the caller lacks never run.
        """
        key = (id(selection), checked, by_type)
        known = self.memo.get(key)
        if known is not None:
            return known
        found: dict[tuple[frozenset[str], frozenset[str]], Need] = {}
        for need in self._expand(selection, checked, by_type):
            found.setdefault((need.scopes, need.checked), need)
        self.memo[key] = result = tuple(found.values())
        return result

    def _expand(
        self, selection: Selection, checked: frozenset[str], by_type: bool
    ) -> Iterator[Need]:
        for item in selection.items:
            if not included(item, None):
                continue
            if isinstance(item, Field):
                yield from self.field(item, checked, by_type)
            elif applies(self.schema, item.on, selection.parent):
                yield from self.selections(item.selection, checked, by_type=by_type)

    def field(self, field: Field, checked: frozenset[str], by_type: bool) -> Iterator[Need]:
        definition, parent, name = field.definition, field.parent, field.name
        if definition is None or name.startswith("__"):
            return  # `__typename`, introspection, or what validation refuses
        guards = checked_at_execution(definition)
        if by_type and parent.name in self.table.types:
            guards |= {self.table.types[parent.name]}
        checked = checked | guards
        scopes = self.table.needs(parent.name, name) | checked_at_execution(definition)
        if scopes:
            yield Need(scopes, checked, (field.key,), field.node)
        if field.selection is not None:
            declared_scopes = declared(definition).scopes
            by_child_type = declared_scopes is not None and declared_scopes.by_type
            for need in self.selections(field.selection, checked, by_type=by_child_type):
                yield replace(need, path=(field.key, *need.path))


# -- the extension ---------------------------------------------------------------


class CheckScopes(SchemaExtension):
    """Refuse, before it runs, an operation that reads what its caller may not (see above).

    What a document reads is worked out once, with its expanded view in the
    schema's document cache (`documents.DocumentCache`).
    """

    def on_execute(self) -> Iterator[None]:
        ec = self.execution_context
        held = principal_of(ec.context).scopes  # no principal: no scope
        # A refusal already made (limits, X-Cost-Only) stands; every scope reads anything.
        document = ec.graphql_document
        if ec.result is None and document is not None and not SCOPES <= held:
            operation = get_operation_ast(document, ec.operation_name)
            view = view_of(ec.schema, document, operation) if operation is not None else None
            access = access_of(core_schema(ec.schema), document, view) if view is not None else None
            errors = access.refusals(held) if access is not None else []
            if errors:
                ec.result = GraphQLExecutionResult(data=None, errors=errors)
        yield
