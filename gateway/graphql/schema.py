"""The schema, and the extensions every operation runs under."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from gateway.graphql.errors import Code, GatewayError, from_studio
from gateway.graphql.mutation import Mutation
from gateway.graphql.query import Query
from gateway.graphql.types import Execution, ExecutionStep, Flow, FlowRevision
from gateway.observability.extension import Observe
from gateway.studio import StudioError

logger = logging.getLogger("gateway.graphql")

MASKED_MESSAGE = "Unexpected error."


class FreshLoaders(SchemaExtension):
    """New loaders for every operation: a WebSocket's context outlives many."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        if context is not None and hasattr(context, "new_loaders"):
            context.loaders = context.new_loaders()
        yield


class GatewaySchema(strawberry.Schema):
    """Masks what is not meant for clients; logs it instead, once, without PII."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for index, error in enumerate(errors):
            errors[index] = _client_error(error)


def _client_error(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if original is None or isinstance(original, GatewayError):
        return error  # a syntax or validation error, or one of ours: already clean
    if isinstance(original, StudioError):
        clean = from_studio(original, "the requested data")
    else:
        # Log the kind and where, not the message: it may hold anything.
        logger.error(
            "unexpected error in a resolver: %s at %s",
            type(original).__name__,
            ".".join(str(p) for p in error.path or ()),
            exc_info=(type(original), original, original.__traceback__),
        )
        clean = GatewayError(MASKED_MESSAGE, Code.INTERNAL_SERVER_ERROR)
    return GraphQLError(
        clean.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=clean.extensions,
    )


def build_schema(extensions: list[Any] | None = None) -> strawberry.Schema:
    return GatewaySchema(
        query=Query,
        mutation=Mutation,
        types=[Flow, FlowRevision, Execution, ExecutionStep],
        extensions=[FreshLoaders, Observe, *(extensions or [])],
    )


def export_sdl() -> str:
    return build_schema().as_str() + "\n"
