"""Each distinct document parsed and validated once, not on every request.

Parsing and validating a document are pure functions of its text, the parser's
options (the token limit) and the validation rules in force (introspection on
or off adds one); the answer never depends on the caller or the variables. So
`DocumentCache` keeps, in a bounded LRU keyed by the text's sha256 (the hash
persisted queries are stored by, so a persisted query's text hits the same
entry), the parsed `DocumentNode` and, per set of rules, its validation
errors, and each operation's expanded view (`selection.OperationView`), which
the scope check, the cost estimate, the reads started ahead and subscriptions
all read. What does depend on the request stays per request: variables are
coerced by graphql-core at execution, cost and limits by `EnforceLimits` from
the view with the request's variables.

Strawberry's `ParserCache`/`ValidationCache` extensions are two process-wide
LRUs (one by the text, one by the parsed node and the rules); here one entry
per document holds both, per schema, under the hash persisted queries use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import strawberry
from cachetools import LRUCache
from graphql import DocumentNode, GraphQLError, GraphQLSchema, OperationDefinitionNode, parse
from graphql.utilities import get_operation_ast
from graphql.validation import ASTValidationRule
from strawberry.extensions import SchemaExtension

from gateway.graphql.internals import core_schema, resolve_info, validate_document
from gateway.graphql.selection import Field, OperationView, fields
from gateway.security.documents import sha256

__all__ = ["CachedDocuments", "DocumentCache", "operation_view", "selected", "view_of"]

Rules = tuple[type[ASTValidationRule], ...]


@dataclass(slots=True)
class _Entry:
    #: The text parsed (the string the parsed document's source holds anyway).
    text: str
    document: DocumentNode
    #: Validation errors by the rules they were found with (usually one set).
    errors: dict[Rules, tuple[GraphQLError, ...]] = field(default_factory=dict)
    #: Each operation's expanded view, by the operation node's identity.
    views: dict[int, OperationView | None] = field(default_factory=dict)


_Key = tuple[str, tuple[tuple[str, Any], ...]]


class _Entries(LRUCache[_Key, _Entry]):
    """The LRU of entries, telling `evicted` of each it lets go."""

    def __init__(self, size: int, evicted: Callable[[_Entry], None]) -> None:
        super().__init__(maxsize=size)
        self._evicted = evicted

    def popitem(self) -> tuple[_Key, _Entry]:
        key, entry = super().popitem()
        self._evicted(entry)
        return key, entry


class DocumentCache:
    """Parsed documents and their validation, for one schema, by the text's sha256."""

    def __init__(self, size: int = 1000) -> None:
        self.size = size
        self._entries = _Entries(size, self._evicted)
        # The entries and views by their nodes' identity; an entry keeps its nodes alive.
        self._by_document: dict[int, _Entry] = {}
        self._by_operation: dict[int, OperationView] = {}
        #: Parses and validations actually run (misses); for tests and benchmarks.
        self.parses = 0
        self.validations = 0

    def __len__(self) -> int:
        return len(self._entries)

    def entry(self, text: str, parse_options: Mapping[str, Any]) -> _Entry | None:
        """The parsed document; None when it does not parse (the caller reports why)."""
        key = (sha256(text), tuple(sorted(parse_options.items())))
        found = self._entries.get(key)
        # Kept under its hash, used only for that very text: a parse is never taken
        # for another document's, whatever the hash says.
        if found is not None and found.text == text:
            return found
        self.parses += 1
        try:
            document = parse(text, **parse_options)
        except GraphQLError:
            return None  # not kept: Strawberry parses it again and reports the error
        if found is not None:
            self._evicted(self._entries.pop(key))
        found = self._by_document[id(document)] = _Entry(text, document)
        self._entries[key] = found
        return found

    def _evicted(self, entry: _Entry) -> None:
        del self._by_document[id(entry.document)]
        for view in entry.views.values():
            if view is not None:
                del self._by_operation[id(view.operation)]

    def view(
        self, schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode
    ) -> OperationView | None:
        """The operation's expanded view: built once per cached document (a document
        not from this cache gets one of its own)."""
        entry = self._by_document.get(id(document))
        if entry is None or entry.document is not document:
            return OperationView.build(schema, document, operation)
        key = id(operation)
        if key not in entry.views:
            view = entry.views[key] = OperationView.build(schema, document, operation)
            if view is not None:
                self._by_operation[key] = view
        return entry.views[key]

    def operation(self, operation: OperationDefinitionNode) -> OperationView | None:
        """The view already built of a cached document's operation."""
        return self._by_operation.get(id(operation))

    def validate(self, schema: GraphQLSchema, entry: _Entry, rules: Rules) -> list[GraphQLError]:
        """The document's validation errors under `rules`: fresh copies, so a request
        that rewrites its errors (masking, suggestions) never changes another's."""
        errors = entry.errors.get(rules)
        if errors is None:
            self.validations += 1
            errors = entry.errors[rules] = tuple(validate_document(schema, entry.document, rules))
        return [_copy(error) for error in errors]


def _copy(error: GraphQLError) -> GraphQLError:
    return GraphQLError(
        error.message,
        error.nodes,
        error.source,
        error.positions,
        error.path,
        error.original_error,
        dict(error.extensions) if error.extensions else None,
    )


class CachedDocuments(SchemaExtension):
    """Parse and validate through a `DocumentCache`: `lambda: CachedDocuments(cache)`.

    Runs after every extension's `on_operation`, so the token limit
    (`EnforceLimits`) and the rules (`AddValidationRules`) are already set.
    """

    def __init__(self, cache: DocumentCache) -> None:
        self.cache = cache
        self._entry: _Entry | None = None

    def on_parse(self) -> Iterator[None]:
        ec = self.execution_context
        if ec.graphql_document is None and ec.query:
            self._entry = self.cache.entry(ec.query, ec.parse_options)
            if self._entry is not None:
                ec.graphql_document = self._entry.document
        yield

    def on_validate(self) -> Iterator[None]:
        ec = self.execution_context
        entry = self._entry
        if entry is not None and ec.pre_execution_errors is None and ec.validation_rules:
            ec.pre_execution_errors = self.cache.validate(
                core_schema(ec.schema), entry, tuple(ec.validation_rules)
            )
        if entry is not None and not ec.pre_execution_errors:
            # Expanded before execution, so every check and resolver finds it here.
            operation = get_operation_ast(entry.document, ec.operation_name)
            if operation is not None:
                self.cache.view(core_schema(ec.schema), entry.document, operation)
        yield


def view_of(
    schema: strawberry.Schema, document: DocumentNode, operation: OperationDefinitionNode
) -> OperationView | None:
    """The operation's view, from the schema's document cache when it has one."""
    cache: DocumentCache | None = getattr(schema, "documents", None)
    if cache is None:
        return OperationView.build(core_schema(schema), document, operation)
    return cache.view(core_schema(schema), document, operation)


def operation_view(info: strawberry.Info[Any, Any]) -> OperationView | None:
    """The view of the operation the resolver of `info` runs in: the one the document
    cache built before execution, else (a schema without the cache: a bare test's)
    one expanded here."""
    schema = info.schema
    cache: DocumentCache | None = getattr(schema, "documents", None)
    view = cache.operation(info.operation) if cache is not None else None
    if view is None:
        view = OperationView.of(core_schema(schema), resolve_info(info).fragments, info.operation)
    return view


def selected(info: strawberry.Info[Any, Any]) -> list[Field]:
    """The fields of the operation that the resolver of `info` answers (those of its
    response key, merged as execution merges them), from the operation's view."""
    view = operation_view(info)
    if view is None:
        return []
    schema = core_schema(info.schema)
    keys = [key for key in info.path.as_list() if isinstance(key, str)]
    variables = info.variable_values
    level = [f for f in fields(view.root, None, variables, schema=schema) if f.key == keys[0]]
    for key in keys[1:]:
        level = [
            child
            for parent in level
            for child in fields(parent.selection, None, variables, schema=schema)
            if child.key == key
        ]
    return level
