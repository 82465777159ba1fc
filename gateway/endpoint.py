"""The `/graphql` endpoint: the strawberry view with the gateway's context.

On `gateway.http.view.GraphQLView` (GraphQL over HTTP), it adds what needs the
running gateway: the context from `request.state.gateway`, a batch priced as a
whole, a `@defer` operation answered in parts for a multipart client, and
answers encoded with orjson.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from cross_web import AsyncHTTPRequestAdapter
from graphql import ExperimentalIncrementalExecutionResults
from starlette.requests import Request
from starlette.responses import Response
from strawberry.http import GraphQLRequestData
from strawberry.types import ExecutionResult, SubscriptionExecutionResult
from strawberry.types.graphql import OperationType

from gateway.graphql import Context, build_schema
from gateway.graphql.incremental import (
    DeferSpecMultipart,
    accepts_incremental,
    execute_incrementally,
    may_be_incremental,
)
from gateway.graphql.internals import core_schema
from gateway.graphql.limits import BatchOperation, price_batch
from gateway.http.view import GraphQLView
from gateway.runtime import Gateway
from gateway.settings import Settings

if TYPE_CHECKING:
    from cross_web import AsyncHTTPRequestAdapter  # strawberry's, in its own signature


class GatewayGraphQL(GraphQLView):
    """The gateway's GraphQL view; the lifespan's state holds the gateway it serves."""

    #: A deferred answer goes out as deferSpec=20220824 multipart (see gateway.graphql.incremental).
    multipart_transport_class = DeferSpecMultipart

    def __init__(self, settings: Settings, **options: Any) -> None:
        schema = build_schema(
            introspection=settings.feature("introspection"),
            suggestions=settings.feature("suggestions"),
            max_batch=settings.max_batch,
        )
        super().__init__(schema, cache_max_age=settings.http_cache_max_age, **options)
        self._graphql_schema = core_schema(schema)  # for pricing a batch

    async def get_context(self, request: Any, response: Any) -> Context:
        gateway: Gateway = request.state.gateway
        return gateway.context(request, response)

    # The base view's annotation lacks the incremental result its `run` streams.
    async def execute_operation(  # type: ignore[override]
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: Context,
        root_value: None,
        sub_response: Response,
    ) -> (
        ExecutionResult
        | list[ExecutionResult]
        | SubscriptionExecutionResult
        | ExperimentalIncrementalExecutionResults
    ):
        """Run the request's operation(s).

        A single operation that may defer, for a client that reads multipart, is
        answered in parts. A batch is budgeted as a whole, before any of its
        operations starts: strawberry runs them side by side, sharing this one
        context, and each operation's EnforceLimits refuses itself when the batch is.
        """
        if (
            isinstance(request_data, GraphQLRequestData)
            and may_be_incremental(request_data.query)
            and accepts_incremental(request.headers.get("accept", ""))
        ):
            method = request_adapter.method
            allowed = OperationType.from_http(method)
            if method == "GET" and not self.allow_queries_via_get:
                allowed -= {OperationType.QUERY}
            return await execute_incrementally(
                self.schema, request_data, context, root_value, allowed, method
            )
        if isinstance(request_data, list) and context.limits is not None:
            context.batch_refusal = price_batch(
                self._graphql_schema,
                [BatchOperation(d.query, d.operation_name, d.variables) for d in request_data],
                context.limits,
            )
        return await super().execute_operation(
            request, request_adapter, request_data, context, root_value, sub_response
        )

    def encode_json(self, data: object) -> str | bytes:
        """orjson: several times faster than the standard library on a large answer."""
        try:
            return orjson.dumps(data)
        except TypeError:
            # What orjson refuses and the standard library writes (an integer past
            # 64 bits in an upstream JSON value): the slow path, the same bytes.
            return super().encode_json(data)
