"""The schema, and the extensions every operation runs under."""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import GraphQLError
from graphql.language.parser import MAX_NESTING_DEPTH
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.exceptions import MissingQueryError
from strawberry.extensions import AddValidationRules, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionContext

from gateway.graphql.access import AccessCache, CheckScopes
from gateway.graphql.deadline import RequestDeadline
from gateway.graphql.direct import direct_resolvers
from gateway.graphql.documents import CachedDocuments, DocumentCache
from gateway.graphql.errors import Code, GatewayError, from_studio
from gateway.graphql.incremental import IncrementalDelivery
from gateway.graphql.limits import EnforceLimits
from gateway.graphql.mutation import Mutation
from gateway.graphql.query import Query
from gateway.graphql.subscription import RefuseSubscriptions, Subscription
from gateway.graphql.types import NODE_TYPES
from gateway.graphql.update_cost import PriceUpdates
from gateway.observability.extension import Observe
from gateway.observability.requests import current_request
from gateway.studio import StudioError

logger = logging.getLogger("gateway.graphql")

MASKED_MESSAGE = "Unexpected error."
#: All graphql-core says when fragments spread into each other too deeply.
_FRAGMENTS_TOO_DEEP = "Validation aborted."

# graphql-core's `did_you_mean`: " Did you mean [the enum value |to use an inline
# fragment on ]'A', 'B', or 'C'?", where each suggestion is a GraphQL name.
_NAME = r"'[_A-Za-z][_0-9A-Za-z]*'"
_DID_YOU_MEAN = (
    r" Did you mean (?:the enum value |to use an inline fragment on )?"
    rf"{_NAME}(?:(?:, {_NAME})*,? or {_NAME})?\?"
)
#: Where graphql-core puts it: at the end of a message...
_SUGGESTION_AT_END = re.compile(_DID_YOU_MEAN + r"$")
#: ...or, for an unknown input field, before the value: ". Did you mean 'a'? Found: {…}."
#: (without suggestions graphql-core writes ", found: {…}.").
_SUGGESTION_BEFORE_FOUND = re.compile(r"\." + _DID_YOU_MEAN + r" Found: ")

# What strawberry raises about the request itself (no query, no such operation,
# a type not allowed): the HTTP view turns these into a 400 with their message.
_REQUEST_ERRORS = (MissingQueryError, CannotGetOperationTypeError, InvalidOperationTypeError)


class FreshLoaders(SchemaExtension):
    """New loaders for every operation: a WebSocket's context outlives many."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        if context is not None and hasattr(context, "new_loaders"):
            context.loaders = context.new_loaders()
        yield


class GatewaySchema(strawberry.Schema):
    """Masks what is not meant for clients; logs it instead, once, without PII."""

    #: Each distinct document parsed and validated once (`build_schema` sets it).
    documents: DocumentCache

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        suggestions = not self.config.disable_field_suggestions
        for index, error in enumerate(errors):
            errors[index] = _client_error(error, suggestions=suggestions)


def _client_error(error: GraphQLError, *, suggestions: bool = True) -> GraphQLError:
    original = error.original_error
    if isinstance(original, (GatewayError, *_REQUEST_ERRORS)):
        return error
    if original is None or _variable_error(error):
        # A syntax, validation or variable error: graphql-core's message
        # describes the client's own document and input, so it is theirs to see.
        if error.message == _FRAGMENTS_TOO_DEEP:
            error.message = (
                f"the document nests deeper than {MAX_NESTING_DEPTH} levels "
                "(fragments included): validation aborted"
            )
        if not (error.extensions or {}).get("code"):
            error.extensions = {**(error.extensions or {}), **_code_of(error.message)}
        if not suggestions:
            error.message = without_suggestions(error.message)
        return error
    if isinstance(original, StudioError):
        clean = from_studio(original, "the requested data")
    else:
        # Log the kind, where, and the frames, never the message: it may hold
        # anything, a phone number or a context value included.
        logger.error(
            "unexpected error in a resolver: %s at %s\n%s",
            type(original).__name__,
            ".".join(str(p) for p in error.path or ()),
            "".join(traceback.format_tb(original.__traceback__)),
        )
        info = current_request()
        request_id = info.request_id if info is not None else None
        message = f"{MASKED_MESSAGE} (request id {request_id})" if request_id else MASKED_MESSAGE
        clean = GatewayError(message, Code.INTERNAL_SERVER_ERROR, requestId=request_id)
    return GraphQLError(
        clean.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=clean.extensions,
    )


def without_suggestions(message: str) -> str:
    """The message without graphql-core's "Did you mean …?", which names schema members.

    Strawberry's `disable_field_suggestions` strips it from unknown fields only;
    arguments, enum values, types and variable values get it too.
    """
    message = _SUGGESTION_AT_END.sub("", message)
    return _SUGGESTION_BEFORE_FOUND.sub(", found: ", message)


def _variable_error(error: GraphQLError) -> bool:
    # Raised while coercing variables, before anything executed (so: no path).
    return error.path is None and error.message.startswith("Variable '$")


def _code_of(message: str) -> dict[str, Any]:
    if message.startswith("Variable '$"):
        return {"code": Code.BAD_USER_INPUT.value}
    if "tokens. Parsing aborted" in message:
        return {"code": Code.QUERY_TOO_COMPLEX.value, "limit": "tokens"}
    if "nested too deeply. Parsing aborted" in message or "(fragments included)" in message:
        return {"code": Code.QUERY_TOO_COMPLEX.value, "limit": "nesting", "max": MAX_NESTING_DEPTH}
    if message.startswith("Syntax Error"):
        return {"code": Code.GRAPHQL_PARSE_FAILED.value}
    return {"code": Code.GRAPHQL_VALIDATION_FAILED.value}


def build_schema(
    *,
    introspection: bool = True,
    suggestions: bool = True,
    max_batch: int | None = None,
    extensions: list[Any] | None = None,
) -> GatewaySchema:
    """The schema. Extensions are classes or factories: one instance per operation."""
    access = AccessCache()
    documents = DocumentCache()
    # CheckScopes after EnforceLimits: a refusal for size or cost stands, and an
    # operation over the limits is never walked.
    chosen: list[Any] = [
        FreshLoaders,
        Observe,
        EnforceLimits,
        PriceUpdates,
        lambda: CheckScopes(access),
        RefuseSubscriptions,
        IncrementalDelivery,
        RequestDeadline,
        # Its hooks run after every `on_operation`: the token limit and rules are set.
        lambda: CachedDocuments(documents),
    ]
    if not introspection:
        chosen.append(lambda: AddValidationRules([NoSchemaIntrospectionCustomRule]))
    schema = GatewaySchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=list(NODE_TYPES),
        extensions=[*chosen, *(extensions or [])],
        config=StrawberryConfig(
            disable_field_suggestions=not suggestions,
            enable_experimental_incremental_execution=True,
            batching_config={"max_operations": max_batch} if max_batch else None,
        ),
    )
    schema.documents = documents
    direct_resolvers(schema)
    return schema


def export_sdl() -> str:
    return build_schema().as_str() + "\n"
