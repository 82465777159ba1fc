"""`/graphql` speaking GraphQL over HTTP as its specification asks.

strawberry's ASGI app, with the hooks that decide how an answer goes out:

- **Media type.** `application/graphql-response+json` when the client accepts
  it (and prefers it, or names it as much as `application/json`), else
  `application/json`, which is also the answer to `*/*` and to no `Accept`.
- **Request errors** (the document does not parse or validate, the variables
  do not coerce, there is no such operation, a limit refuses it): nothing ran,
  so the answer has no `data` key. Under `application/graphql-response+json`
  the status says so, 400 (500 when the fault is ours); under
  `application/json` it stays 200, as older clients expect.
- **Requests strawberry refuses outright** (no query, a `query` that is not a
  string, …) answer with a JSON error, never a `text/plain` one.
- **Caching.** A GET answer with no error, read only from what never changes
  (the request's loaders keep count: `Loaders.reads`), says so with
  `Cache-Control: private, max-age=…`; `gateway.http.caching` adds the `ETag`,
  answers `If-None-Match` and marks every other answer `no-store`.
"""

from __future__ import annotations

from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.exceptions import CannotGetOperationTypeError
from strawberry.types import ExecutionResult

from gateway.graphql import Context
from gateway.http.negotiation import choose_media_type

__all__ = ["GRAPHQL_RESPONSE", "JSON", "GraphQLView"]

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
#: What /graphql answers in, the preferred first.
MEDIA_TYPES = (GRAPHQL_RESPONSE, JSON)


class GraphQLView(GraphQL[Context, None]):
    """strawberry's ASGI GraphQL app with the spec's media types, statuses and caching."""

    def __init__(self, *args: Any, cache_max_age: int = 0, **options: Any) -> None:
        super().__init__(*args, **options)
        #: Seconds a client may keep a GET answer read only from what never changes.
        self.cache_max_age = cache_max_age

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        try:
            response = await self.run(request)
        except HTTPException as refused:
            response = self.refusal(request, refused.status_code, refused.reason)
        await response(scope, receive, send)

    def refusal(self, request: Request, status: int, message: str) -> Response:
        """A request refused before any operation ran, in the media type the client wants."""
        body = {"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]}
        return Response(self.encode_json(body), status_code=status, media_type=media_type(request))

    async def get_sub_response(self, request: Request | Any) -> Response:
        sub_response = await super().get_sub_response(request)
        sub_response.media_type = media_type(request)
        return sub_response

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        parsed = await super().parse_http_body(request)
        for operation in parsed if isinstance(parsed, list) else [parsed]:
            # strawberry checks `query`, `variables` and `extensions`, not this one.
            if not isinstance(operation.operation_name, str | None):
                raise HTTPException(
                    400, "The GraphQL operation's `operationName` must be a string or null."
                )
        return parsed

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        try:
            result = await super().execute_single(
                request, request_adapter, sub_response, context, root_value, request_data
            )
        except HTTPException as refused:
            cause = refused.__cause__
            if not isinstance(cause, CannotGetOperationTypeError):
                raise
            # Choosing the operation is part of running the request (GraphQL's
            # GetOperation): a request error like a validation error.
            message = (
                f'Unknown operation named "{cause.operation_name}".'
                if cause.operation_name is not None
                else "The document holds no operation to run."
            )
            error = GraphQLError(message, extensions={"code": "OPERATION_RESOLUTION_FAILURE"})
            return ExecutionResult(data=None, errors=[error])
        if (
            self.cache_max_age
            and request_adapter.method == "GET"
            and not result.errors
            and context.loaders.reads.only_immutable
        ):
            sub_response.headers["cache-control"] = f"private, max-age={self.cache_max_age}"
        return result

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        response = await super().process_result(request, result)
        if _request_error(result):
            # Nothing ran, so there is no data, not even null (GraphQL spec, "Response").
            response.pop("data", None)
        return response

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        media = sub_response.media_type or JSON
        response.headers["content-type"] = media
        if (
            media == GRAPHQL_RESPONSE
            and not sub_response.status_code
            and isinstance(response_data, dict)
            and "data" not in response_data
        ):
            response.status_code = _request_error_status(response_data)
        return response


def media_type(request: Request) -> str:
    """The media type the client should get, from its `Accept`."""
    return choose_media_type(request.headers.get("accept"), MEDIA_TYPES, JSON)


def _request_error(result: ExecutionResult) -> bool:
    # Errors, no data, and no error at a path: nothing executed. A field error
    # that nulls all of `data` (a non-null root field failed) has a path.
    errors = result.errors or []
    return bool(errors) and result.data is None and all(e.path is None for e in errors)


def _request_error_status(response: GraphQLHTTPResponse) -> int:
    codes = {
        (error.get("extensions") or {}).get("code")
        for error in response.get("errors") or []
        if isinstance(error, dict)
    }
    return 500 if "INTERNAL_SERVER_ERROR" in codes else 400
