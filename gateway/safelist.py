"""`studio-gateway safelist build`: the safelist `STUDIO_GATEWAY_SAFELIST_FILE` loads,
made from what a client ships.

Sources, by their content:

- a `.graphql` file: one document, exactly as the client sends it (its
  operations, and the fragments they use);
- Apollo's `persisted-query-manifest.json` (`@apollo/generate-persisted-query-manifest`):
  `{"format": "apollo-persisted-query-manifest", "version": 1,
  "operations": [{"id", "name", "type", "body"}]}`;
- Relay's `persisted_queries.json` (relay-compiler's `persistConfig.file`):
  `{"<id>": "<text>"}`.

A client asks for a persisted operation by the SHA-256 of its text
(`extensions.persistedQuery.sha256Hash`), and the gateway checks that hash
against the text it holds; so a manifest's ids must be those hashes: Apollo's
default, and Relay's with `"algorithm": "SHA256"`. Each document is validated
against the schema and priced with the gateway's own estimate
(`gateway.graphql.cost`): its variables' defaults, any other `first` at its
largest, from the first page. The safelist written is `{sha256: text}`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    NamedTypeNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    parse,
    validate,
    value_from_ast_untyped,
)

from gateway.graphql.connections import MAX_FIRST
from gateway.graphql.cost import AnalysisTooLarge, analyse
from gateway.security.documents import sha256

__all__ = ["Operation", "SafelistError", "Source", "build", "read_sources"]

APOLLO_FORMAT = "apollo-persisted-query-manifest"


class SafelistError(Exception):
    """A source or an operation that cannot go in the safelist; the message names it."""


@dataclass(frozen=True)
class Source:
    """One document as a client sends it, and where it was read."""

    where: str
    text: str
    #: The id the manifest gives it (None for a .graphql file).
    id: str | None = None


@dataclass(frozen=True)
class Operation:
    """One operation of the safelist: its document's hash, its name and its price."""

    where: str
    digest: str
    name: str
    kind: str
    cost: int


def read_sources(paths: Iterable[Path]) -> list[Source]:
    """Every document the files hold; SafelistError naming the file that cannot be read."""
    sources: list[Source] = []
    for path in paths:
        if path.suffix not in (".graphql", ".gql", ".json"):
            raise SafelistError(
                f"{path}: expected a .graphql file or a persisted-query manifest (.json)"
            )
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SafelistError(f"{path}: cannot be read: no such file") from None
        except (OSError, UnicodeDecodeError) as error:
            raise SafelistError(f"{path}: cannot be read ({error.__class__.__name__})") from None
        if path.suffix == ".json":
            sources.extend(_manifest(path, text))
        else:
            sources.append(Source(str(path), text))
    return sources


def build(schema: GraphQLSchema, sources: list[Source]) -> tuple[dict[str, str], list[Operation]]:
    """The safelist `{sha256: text}` and each operation priced; SafelistError listing every
    invalid document, by file and operation."""
    safelist: dict[str, str] = {}
    operations: list[Operation] = []
    problems: list[str] = []
    for source in sources:
        try:
            priced = _check(schema, source)
        except SafelistError as error:
            problems.append(str(error))
            continue
        safelist[sha256(source.text)] = source.text
        operations.extend(priced)
    if problems:
        raise SafelistError("\n".join(problems))
    return dict(sorted(safelist.items())), operations


def _check(schema: GraphQLSchema, source: Source) -> list[Operation]:
    digest = sha256(source.text)
    if source.id is not None and source.id.lower() != digest:
        raise SafelistError(
            f"{source.where}: its id {source.id!r} is not the SHA-256 of its text, which is "
            "what a client sends and the gateway checks: make the manifest with SHA-256 ids "
            '(Apollo\'s default; Relay: persistConfig "algorithm": "SHA256")'
        )
    try:
        document = parse(source.text)
    except GraphQLError as error:
        raise SafelistError(f"{source.where}: does not parse: {error.message}") from None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if not operations:
        raise SafelistError(f"{source.where}: holds no operation")
    errors = validate(schema, document)
    if errors:
        named = ", ".join(_name(o) for o in operations)
        details = "; ".join(e.message for e in errors[:5])
        raise SafelistError(f"{source.where}: operation {named}: invalid: {details}")
    return [
        Operation(
            source.where,
            digest,
            _name(operation),
            operation.operation.value,
            _price(schema, document, operation, source.where),
        )
        for operation in operations
    ]


def _price(
    schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, where: str
) -> int:
    try:
        shape = analyse(schema, document, operation, _worst_variables(operation))
    except AnalysisTooLarge:
        raise SafelistError(
            f"{where}: operation {_name(operation)}: too large to price (fragments expand "
            "past any real query)"
        ) from None
    return math.ceil(shape.cost)


def _worst_variables(operation: OperationDefinitionNode) -> dict[str, Any]:
    """Values that price the operation at its dearest: each variable's default, and any
    Int without one at the largest page (`first` is the only Int that costs)."""
    values: dict[str, Any] = {}
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        if definition.default_value is not None:
            values[name] = value_from_ast_untyped(definition.default_value)
            continue
        kind = definition.type
        named = kind.type if isinstance(kind, NonNullTypeNode) else kind
        if isinstance(named, NamedTypeNode) and named.name.value == "Int":
            values[name] = MAX_FIRST
    return values


def _name(operation: OperationDefinitionNode) -> str:
    return operation.name.value if operation.name else "(anonymous)"


def _manifest(path: Path, text: str) -> list[Source]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise SafelistError(f"{path}: not JSON ({error.msg}, line {error.lineno})") from None
    if isinstance(data, dict) and data.get("format") == APOLLO_FORMAT:
        return _apollo(path, data)
    if isinstance(data, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        return [Source(f"{path} [{key}]", body, key) for key, body in data.items()]
    raise SafelistError(
        f"{path}: neither Apollo's persisted-query manifest (format {APOLLO_FORMAT!r}) "
        "nor Relay's persisted queries ({id: text})"
    )


def _apollo(path: Path, data: dict[str, Any]) -> list[Source]:
    if data.get("version") != 1:
        raise SafelistError(f"{path}: Apollo manifest version {data.get('version')!r}; expected 1")
    operations = data.get("operations")
    if not isinstance(operations, list):
        raise SafelistError(f"{path}: `operations` must be a list")
    sources = []
    for place, entry in enumerate(operations, start=1):
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("id"), str)
            and isinstance(entry.get("body"), str)
        ):
            raise SafelistError(f"{path}: operation {place} needs a string `id` and `body`")
        name = entry.get("name") if isinstance(entry.get("name"), str) else f"#{place}"
        sources.append(Source(f"{path} [{name}]", entry["body"], entry["id"]))
    return sources
