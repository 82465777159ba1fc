"""Incremental delivery: `@defer` and `@stream` answered in parts, for clients that read them.

A client that sends `Accept: multipart/mixed; deferSpec=20220824` (as Apollo
Client does) gets a `multipart/mixed` answer: the first part holds what is
not deferred, with `hasNext: true`; each later part carries a deferred
fragment's `data` (or a stream's `items`) and the `path` it belongs at; the
last has `hasNext: false`. Any other client gets the whole answer in one JSON,
as if the document had no `@defer` or `@stream` (GraphQL over HTTP lets a
server ignore them).

How: the HTTP view runs such an operation through `Schema.stream`, so the
operation's extensions (loaders, limits, the request deadline, observability)
last until its last part, and each later part passes `IncrementalDelivery`,
which masks its errors as the first part's are. graphql-core numbers pending
parts (`pending`, `completed`: the 2023 draft of the spec); `DeferSpecMultipart`
writes them the way deferSpec=20220824 clients read them, each at its path.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

from cross_web import HTTPException
from graphql import (
    DirectiveNode,
    DocumentNode,
    ExperimentalIncrementalExecutionResults,
    InitialIncrementalExecutionResult,
    SubsequentIncrementalExecutionResult,
    Visitor,
    visit,
)
from graphql.language.visitor import REMOVE
from strawberry.exceptions import MissingQueryError
from strawberry.extensions import SchemaExtension
from strawberry.http import GraphQLRequestData
from strawberry.http.streaming import (
    JSONEncoder,
    MultipartDataStream,
    MultipartTextStream,
    MultipartTransport,
)
from strawberry.schema.base import BaseSchema
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.execution import StreamExecutionResult
from strawberry.types.graphql import OperationType

from gateway.graphql.context import Context

__all__ = [
    "DEFER_SPEC",
    "DeferSpecMultipart",
    "IncrementalDelivery",
    "accepts_incremental",
    "execute_incrementally",
    "may_be_incremental",
]

#: The incremental-delivery format this gateway writes (the one Apollo Client 3 reads).
DEFER_SPEC: Final = "20220824"
_DIRECTIVES: Final = frozenset({"defer", "stream"})


def accepts_incremental(accept: str) -> bool:
    """Whether an `Accept` header takes `multipart/mixed` incremental delivery.

    A bare `multipart/mixed`, or one with `deferSpec=20220824`; not one for
    multipart subscriptions (`subscriptionSpec`), another deferSpec, or `q=0`.
    """
    for media_range in accept.split(","):
        media_type, _, parameters = media_range.partition(";")
        if media_type.strip().lower() != "multipart/mixed":
            continue
        params: dict[str, str] = {}
        for parameter in parameters.split(";"):
            name, _, value = parameter.partition("=")
            params[name.strip().lower()] = value.strip().strip("\"'")
        if "subscriptionspec" in params or params.get("deferspec", DEFER_SPEC) != DEFER_SPEC:
            continue
        if _refused(params.get("q")):
            continue
        return True
    return False


def _refused(quality: str | None) -> bool:
    try:
        return quality is not None and float(quality) == 0
    except ValueError:
        return False


def may_be_incremental(query: str | None) -> bool:
    """Whether a document's text can hold `@defer` or `@stream` (a quick look; no parse)."""
    # Not "@defer": GraphQL allows space between "@" and the name.
    return query is not None and ("defer" in query or "stream" in query)


class _WithoutIncremental(Visitor):
    def enter_directive(self, node: DirectiveNode, *_: object) -> object:
        return REMOVE if node.name.value in _DIRECTIVES else None


def without_incremental(document: DocumentNode) -> DocumentNode:
    """The document with every `@defer` and `@stream` removed (a copy; the parsed one is shared)."""
    stripped: DocumentNode = visit(document, _WithoutIncremental())
    return stripped


class IncrementalDelivery(SchemaExtension):
    """Ignore `@defer`/`@stream` unless the view streams this operation; mask later parts' errors.

    Pass it after `EnforceLimits`, so the limits judge the document as sent.
    """

    def on_execute(self) -> Iterator[None]:
        ec = self.execution_context
        if (
            not getattr(ec.context, "incremental_delivery", False)
            and ec.graphql_document is not None
            and (ec.query is None or may_be_incremental(ec.query))
        ):
            ec.graphql_document = without_incremental(ec.graphql_document)
        yield

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        # The first part went through `Schema.process_errors`; later parts are
        # graphql-core's own, and must not carry more than the first may.
        if isinstance(result, SubsequentIncrementalExecutionResult):
            ec = self.execution_context
            for part in (*(result.incremental or ()), *(result.completed or ())):
                if part.errors:
                    ec.schema.process_errors(part.errors, ec)
        yield


async def execute_incrementally(
    schema: BaseSchema,
    request: GraphQLRequestData,
    context: Context,
    root_value: None,
    allowed: set[OperationType],
    method: str,
) -> ExecutionResult | ExperimentalIncrementalExecutionResults:
    """Run one operation for a client that reads multipart: its parts, or one plain result.

    Errors about the request itself (no such operation, a type not allowed)
    are answered with HTTP 400, as the ordinary path answers them.
    """
    context.incremental_delivery = True
    frames = await schema.stream(
        request.query,
        variable_values=request.variables,
        context_value=context,
        root_value=root_value,
        operation_name=request.operation_name,
        operation_extensions=request.extensions,
        allowed_operation_types=allowed,
    )
    first = await anext(frames)
    if isinstance(first, InitialIncrementalExecutionResult):
        # The base view streams this container; the frames after the first are later parts.
        later = cast("AsyncGenerator[SubsequentIncrementalExecutionResult, None]", frames)
        return ExperimentalIncrementalExecutionResults(first, later)
    # Nothing was deferred: finish the operation (its extensions log as it ends).
    async for _ in frames:
        pass
    assert isinstance(first, ExecutionResult)
    for error in first.errors or ():
        original = error.original_error
        if isinstance(original, InvalidOperationTypeError):
            raise HTTPException(400, original.as_http_error_reason(method))
        if isinstance(original, CannotGetOperationTypeError):
            raise HTTPException(400, original.as_http_error_reason())
        if isinstance(original, MissingQueryError):
            raise HTTPException(400, "No GraphQL query found in the request")
    return first


@dataclass(frozen=True)
class _Pending:
    path: tuple[str | int, ...]
    label: str | None


class DeferSpecMultipart(MultipartTransport):
    """One incremental answer as `multipart/mixed; deferSpec=20220824`; one instance per answer.

    graphql-core names each deferred fragment or stream once (`pending`: an id,
    a path, a label) and then refers to it by id; deferSpec=20220824 clients
    want the `path` (and `label`) on every part, a stream's `path` ending at
    the index of its first item, and a part that failed whole as `data: null`
    (or `items: null`) with its errors. So this remembers the pending parts and
    how long each list sent so far is (only its length: not the data).
    """

    def __init__(self) -> None:
        super().__init__()
        self._pending: dict[str, _Pending] = {}
        self._lengths: dict[tuple[str | int, ...], int] = {}

    @property
    def headers(self) -> Mapping[str, str]:
        return {
            "Content-Type": f'multipart/mixed; boundary="{self.separator}"; deferSpec={DEFER_SPEC}'
        }

    def stream(self, data: MultipartDataStream, encode_json: JSONEncoder) -> MultipartTextStream:
        async def parts() -> AsyncGenerator[object, None]:
            async for frame in data():
                assert isinstance(frame, Mapping)
                yield self.payload(frame)

        return super().stream(parts, encode_json)

    def payload(self, frame: Mapping[str, Any]) -> dict[str, Any]:
        """A part as deferSpec=20220824 writes it, from one of strawberry's formatted frames."""
        for pending in frame.get("pending") or ():
            self._pending[pending["id"]] = _Pending(tuple(pending["path"]), pending.get("label"))
        payload: dict[str, Any] = {}
        if "data" in frame:  # the first part
            payload["data"] = frame["data"]
            self._note_lists((), frame["data"])
            if frame.get("errors"):
                payload["errors"] = frame["errors"]
        else:
            incremental = [self._piece(piece) for piece in frame.get("incremental") or ()]
            incremental += self._failures(frame.get("completed") or ())
            if incremental:
                payload["incremental"] = incremental
        if frame.get("extensions"):
            payload["extensions"] = frame["extensions"]
        payload["hasNext"] = bool(frame.get("hasNext"))
        return payload

    def _piece(self, piece: Mapping[str, Any]) -> dict[str, Any]:
        pending = self._pending[piece["id"]]
        out: dict[str, Any]
        if "items" in piece:
            start = self._lengths.get(pending.path, 0)
            out = {"items": piece["items"], "path": [*pending.path, start]}
            for index, item in enumerate(piece["items"], start):
                self._note_lists((*pending.path, index), item)
            self._lengths[pending.path] = start + len(piece["items"])
        else:
            path = (*pending.path, *piece.get("subPath", ()))
            out = {"data": piece["data"], "path": list(path)}
            self._note_lists(path, piece["data"])
        return _labelled(out, pending, piece)

    def _failures(self, completed: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        failed = []
        for done in completed:
            pending = self._pending.pop(done["id"])
            if not done.get("errors"):
                continue
            if pending.path in self._lengths:  # a list: this was a stream
                index = self._lengths[pending.path]
                out: dict[str, Any] = {"items": None, "path": [*pending.path, index]}
            else:
                out = {"data": None, "path": list(pending.path)}
            failed.append(_labelled(out, pending, done))
        return failed

    def _note_lists(self, path: tuple[str | int, ...], value: object) -> None:
        if isinstance(value, list):
            self._lengths[path] = len(value)
            for index, item in enumerate(value):
                self._note_lists((*path, index), item)
        elif isinstance(value, dict):
            for key, item in value.items():
                self._note_lists((*path, key), item)


def _labelled(out: dict[str, Any], pending: _Pending, part: Mapping[str, Any]) -> dict[str, Any]:
    if pending.label is not None:
        out["label"] = pending.label
    if part.get("errors"):
        out["errors"] = part["errors"]
    if part.get("extensions"):
        out["extensions"] = part["extensions"]
    return out
