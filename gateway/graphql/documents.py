"""Each distinct document parsed and validated once, not on every request.

Parsing and validating a document are pure functions of its text, the parser's
options (the token limit) and the validation rules in force (introspection on
or off adds one); the answer never depends on the caller or the variables. So
`DocumentCache` keeps, in a bounded LRU keyed by the text's sha256 (the hash
persisted queries are stored by, so a persisted query's text hits the same
entry), the parsed `DocumentNode` and, per set of rules, its validation
errors. What does depend on the request stays per request: variables are
coerced by graphql-core at execution, cost and limits by `EnforceLimits`,
scopes by `CheckScopes` (which caches its own per-document walk).

Strawberry's `ParserCache`/`ValidationCache` extensions are two process-wide
LRUs (one by the text, one by the parsed node and the rules); here one entry
per document holds both, per schema, under the hash persisted queries use.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import DocumentNode, GraphQLError, GraphQLSchema, parse
from graphql.validation import ASTValidationRule
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from gateway.security.documents import sha256

__all__ = ["CachedDocuments", "DocumentCache"]

Rules = tuple[type[ASTValidationRule], ...]


@dataclass(slots=True)
class _Entry:
    #: The text parsed (the string the parsed document's source holds anyway).
    text: str
    document: DocumentNode
    #: Validation errors by the rules they were found with (usually one set).
    errors: dict[Rules, tuple[GraphQLError, ...]] = field(default_factory=dict)


class DocumentCache:
    """Parsed documents and their validation, for one schema, by the text's sha256."""

    def __init__(self, size: int = 1000) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[str, tuple[tuple[str, Any], ...]], _Entry] = OrderedDict()
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
            self._entries.move_to_end(key)
            return found
        self.parses += 1
        try:
            document = parse(text, **parse_options)
        except GraphQLError:
            return None  # not kept: Strawberry parses it again and reports the error
        found = self._entries[key] = _Entry(text, document)
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return found

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
                ec.schema._schema, entry, tuple(ec.validation_rules)
            )
        yield
