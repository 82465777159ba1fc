"""The door of `/graphql`: authentication, CSRF rules, size limits, persisted queries.

Everything here is decided from the HTTP request alone, before GraphQL parses
anything and before any upstream call: a refused request is answered with a
GraphQL-shaped error and the status that says why.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from graphql import DocumentNode, GraphQLError, OperationDefinitionNode, OperationType, parse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.security import client_json
from gateway.security.auth import Authenticator, Unauthenticated
from gateway.security.codes import Code
from gateway.security.persisted import PersistedError, PersistedQueries
from gateway.studio import Credentials, InvalidArgument

JSON_TYPES = ("application/json", "application/graphql-response+json")
#: Enough to read a GET's operation type; the schema enforces the real token limit.
MAX_GET_TOKENS = 10_000
#: Whether a document may hold a subscription, before parsing it to know.
_SUBSCRIPTION = re.compile(r"\bsubscription\b")


class Refused(Exception):
    def __init__(
        self, status: int, message: str, code: Code, headers: dict[str, str] | None = None
    ):
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers or {}


class GraphQLGate:
    """Wraps the GraphQL endpoint itself, inside its route.

    Whatever the router sends to GraphQL passes here, whatever the path or the
    root path it came by: the gate never compares paths. It sets the request's
    principal; GraphQL treats a request without one as holding no scope.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        authenticator: Authenticator,
        persisted: PersistedQueries,
        passthrough: bool,
        max_body_bytes: int,
        max_batch: int,
    ) -> None:
        self.app, self.authenticator, self.persisted = app, authenticator, persisted
        self.passthrough, self.max_body_bytes, self.max_batch = (
            passthrough,
            max_body_bytes,
            max_batch,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            # The route serves HTTP only; anything else would reach GraphQL as nobody.
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        try:
            state = scope.setdefault("state", {})
            state["principal"] = await self._authenticate(headers)
            state["credentials"] = self._credentials(headers)
            if scope["method"] == "POST":
                body = await self._post_body(headers, receive)
                receive = _replay(body, receive)
            elif scope["method"] == "GET":
                scope = {**scope, "query_string": await self._get_query(scope)}
        except Refused as refused:
            await _refuse(refused, send)
            return
        await self.app(scope, receive, send)

    async def _authenticate(self, headers: Headers) -> Any:
        try:
            return await self.authenticator.authenticate(headers)
        except Unauthenticated as error:
            raise Refused(
                401, str(error), Code.UNAUTHENTICATED, {"WWW-Authenticate": "Bearer"}
            ) from None

    def _credentials(self, headers: Headers) -> Credentials | None:
        if not self.passthrough:
            return None
        header = headers.get("authorization")
        if not header:
            raise Refused(
                401,
                "send your Twilio credentials as HTTP Basic (account SID and auth token)",
                Code.UNAUTHENTICATED,
                {"WWW-Authenticate": 'Basic realm="Twilio"'},
            )
        try:
            return Credentials.from_basic_header(header)
        except InvalidArgument as error:
            raise Refused(401, str(error), Code.UNAUTHENTICATED) from None

    async def _post_body(self, headers: Headers, receive: Receive) -> bytes:
        media = headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in JSON_TYPES:
            # A form or text/plain POST needs no CORS preflight: that is the CSRF door.
            raise Refused(
                415, "POST a JSON body (Content-Type: application/json)", Code.BAD_REQUEST
            )
        declared = headers.get("content-length", "")
        # A Content-Length of thousands of digits is over any limit, and past int()'s.
        if (
            declared.isascii()
            and declared.isdigit()
            and (len(declared) > 18 or int(declared) > self.max_body_bytes)
        ):
            raise _too_large(self.max_body_bytes)
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > self.max_body_bytes:
                raise _too_large(self.max_body_bytes)
            if not message.get("more_body"):
                break
        data = _load(body, "the body")
        if isinstance(data, list):
            if not data or len(data) > self.max_batch:
                raise Refused(
                    400, f"a batch holds 1 to {self.max_batch} operations", Code.BAD_REQUEST
                )
            resolved: Any = [await self._resolve(op) for op in data]
        else:
            resolved = await self._resolve(data)
        for operation in resolved if isinstance(resolved, list) else [resolved]:
            if _subscribes(operation.get("query"), operation.get("operationName")):
                raise _subscription_over_http()
        return json.dumps(resolved).encode()

    async def _get_query(self, scope: Scope) -> bytes:
        raw = scope.get("query_string", b"")
        if len(raw) > self.max_body_bytes:
            raise _too_large(self.max_body_bytes)
        params = dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True))
        operation: dict[str, Any] = {"query": params.get("query")}
        if params.get("extensions"):
            operation["extensions"] = _load(params["extensions"], "the extensions parameter")
        if params.get("variables"):
            # Strawberry parses it again, which is safe once it passed here.
            _load(params["variables"], "the variables parameter")
        if operation["query"] is None and "extensions" not in operation:
            return bytes(raw)  # GraphiQL's page, or strawberry's own "no query" answer
        resolved = await self._resolve(operation)
        kinds = _operation_kinds(resolved["query"])
        if OperationType.SUBSCRIPTION in kinds:
            raise _subscription_over_http()
        if OperationType.MUTATION in kinds:
            raise Refused(405, "mutations run only over POST", Code.BAD_REQUEST, {"Allow": "POST"})
        params["query"] = resolved["query"]
        return urlencode(params).encode()

    async def _resolve(self, operation: Any) -> dict[str, Any]:
        if not isinstance(operation, dict):
            raise Refused(400, "an operation must be a JSON object", Code.BAD_REQUEST)
        try:
            return await self.persisted.resolve(operation)
        except PersistedError as error:
            # Apollo clients read the message and the code and retry with the text.
            raise Refused(200, error.message, error.code) from None


def _load(data: str | bytes, what: str) -> Any:
    try:
        return client_json.loads(data, what=what)
    except client_json.ClientJSONError as error:
        raise Refused(400, error.message, Code.BAD_REQUEST) from None


def _operation_kinds(query: Any) -> set[OperationType]:
    """The kinds of operation a document holds (a GET must hold queries alone)."""
    document = _parsed(query)
    if document is None:
        return set()
    return {d.operation for d in document.definitions if isinstance(d, OperationDefinitionNode)}


def _subscribes(query: Any, operation_name: Any) -> bool:
    """Whether the operation a POST runs is a subscription (which needs the WebSocket).

    Most documents never name one: they are not parsed here at all.
    """
    if not isinstance(query, str) or _SUBSCRIPTION.search(query) is None:
        return False
    document = _parsed(query)
    if document is None:
        return False
    return chosen_operation(document, operation_name) is OperationType.SUBSCRIPTION


def chosen_operation(document: DocumentNode, operation_name: Any) -> OperationType | None:
    """The kind of the operation a request runs of `document`; None when it does not
    say which (several operations and no name, or none by that name)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [
        o
        for o in operations
        if operation_name is None or (o.name is not None and o.name.value == operation_name)
    ]
    # Several operations and no name: execution answers that it needs one.
    return chosen[0].operation if len(chosen) == 1 else None


def _parsed(query: Any) -> DocumentNode | None:
    if not isinstance(query, str):
        return None
    try:
        return parse(query, max_tokens=MAX_GET_TOKENS)
    except GraphQLError:
        return None  # the schema answers with the syntax error


def _subscription_over_http() -> Refused:
    # graphql-transport-ws at this same URL; an HTTP answer could hold only one update.
    return Refused(
        400,
        "subscriptions run over a WebSocket at this URL (graphql-transport-ws, as "
        "graphql-ws clients speak it), not over HTTP",
        Code.BAD_REQUEST,
    )


def _too_large(limit: int) -> Refused:
    return Refused(413, f"the request is larger than {limit} bytes", Code.BAD_REQUEST)


def _replay(body: bytes, receive: Receive) -> Callable[[], Awaitable[Message]]:
    """The (rewritten) body once, then the real channel, so a disconnect still shows."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _refuse(refused: Refused, send: Send) -> None:
    body = json.dumps(
        {"errors": [{"message": refused.message, "extensions": {"code": refused.code}}]}
    ).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in refused.headers.items()),
    ]
    await send({"type": "http.response.start", "status": refused.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
