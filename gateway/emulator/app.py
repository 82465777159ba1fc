"""The Starlette application: routing, then per request the emulator's pipeline.

Each request is counted under its route template, then held while the emulator
is paused, then delayed (latency and jitter; in flight all the while), then
possibly given an injected fault, then authenticated and handled. Errors leave
as Twilio-shaped JSON.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Final

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.emulator import paths
from gateway.emulator.emulator import Emulator
from gateway.emulator.errors import (
    TwilioError,
    authentication_required,
    method_not_allowed,
    not_found,
)
from gateway.emulator.faults import fault_response
from gateway.emulator.forms import Form
from gateway.emulator.handlers import OPERATIONS, Call, Handler
from gateway.emulator.limits import create_limit_exceeded

Endpoint = Callable[[Request], Awaitable[Response]]

# Every method reaches the endpoint, so one Twilio does not support is counted and
# answered by the emulator itself (405, code 20004) rather than by the router.
_ALL_METHODS: Final = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
#: How often a request held by `Emulator.paused` looks whether it may go on.
_PAUSE_POLL: Final = 0.002


def create_app(
    emulator: Emulator, base_url: str | None = None, *, admin: bool = False
) -> Starlette:
    """An ASGI app serving `emulator`.

    URLs in bodies start with `base_url` when given, else with the request's own
    scheme, host and port, so clients that follow them stay on the emulator.
    With `admin`, `/_emulator/requests` reads (GET) and resets (DELETE) the
    request counters, so a benchmark in another process can count upstream calls.
    """
    base = base_url.rstrip("/") if base_url else None
    routes = [
        Route(template, endpoint=_endpoint(emulator, template, base), methods=_ALL_METHODS)
        for template in paths.ROUTE_TEMPLATES
    ]
    if admin:
        routes.append(Route("/_emulator/requests", _admin(emulator), methods=["GET", "DELETE"]))
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error, Exception: _internal_error},
    )
    # Twilio has no trailing-slash redirects: "/v2/Flows/" is simply not found.
    app.router.redirect_slashes = False
    return app


async def _http_error(request: Request, exc: Exception) -> Response:
    """Requests no route matched: answered the Twilio way."""
    if isinstance(exc, HTTPException) and exc.status_code != 404:
        error = TwilioError(exc.status_code, 20000 + exc.status_code, str(exc.detail))
        return error.response()
    return not_found(request.url.path).response()


async def _internal_error(request: Request, exc: Exception) -> Response:
    """An emulator bug still answers like Twilio; the exception is re-raised to the server."""
    return TwilioError(500, 20500, "Internal Server Error").response()


def _admin(emulator: Emulator) -> Endpoint:
    async def requests(request: Request) -> Response:
        if request.method == "DELETE":
            emulator.reset_counters()
        return JSONResponse(
            {
                "total": emulator.total_requests,
                "max_in_flight": emulator.max_in_flight,
                "throttled": sum(emulator.throttled.values()),
                "by_route": {k: v for k, v in emulator.requests.items() if v},
            }
        )

    return requests


def _endpoint(emulator: Emulator, template: str, base_url: str | None) -> Endpoint:
    operations = OPERATIONS[template]

    async def endpoint(request: Request) -> Response:
        method = request.method
        emulator.begin_request(f"{method} {template}")
        try:
            # Polled, not an Event: tests flip the flag from another thread (and loop).
            while emulator.paused:  # noqa: ASYNC110
                await anyio.sleep(_PAUSE_POLL)
            delay = emulator.request_delay()
            if delay > 0:
                await anyio.sleep(delay)
            plan = emulator.faults.draw(method, template)
            body = await request.body()
            if plan is not None and not plan.processed:
                if plan.kind != "hang":
                    return _stamp(fault_response(plan, None), emulator)
                if await _hang(request, emulator.faults.hang_seconds):
                    return Response(status_code=499)
            response = _dispatch(emulator, request, template, operations, body, base_url)
            if plan is not None and plan.processed:
                if plan.kind != "hang":
                    return _stamp(fault_response(plan, response), emulator)
                await _hang(request, emulator.faults.hang_seconds)
            return _stamp(response, emulator)
        finally:
            emulator.end_request()

    return endpoint


async def _hang(request: Request, seconds: float) -> bool:
    """Wait `seconds`, or until the client goes away (then True). Cancellable."""
    with anyio.move_on_after(seconds):
        while True:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                return True
    return False


def _dispatch(
    emulator: Emulator,
    request: Request,
    template: str,
    operations: Mapping[str, Handler],
    body: bytes,
    base_url: str | None,
) -> Response:
    try:
        account = emulator.authenticate(request.headers.get("authorization"))
        if account is None:
            raise authentication_required()
        handler = operations.get(request.method)
        if handler is None:
            raise method_not_allowed(request.method, request.url.path)
        if (
            request.method == "POST"
            and template == paths.EXECUTIONS
            and not emulator.admit_create(account.account_sid)
        ):
            raise create_limit_exceeded()
        call = Call(
            account=account,
            path=request.url.path,
            params=request.path_params,
            query=request.query_params,
            form=Form.parse(body, request.headers.get("content-type")),
            base_url=base_url or f"{request.url.scheme}://{request.url.netloc}",
            now=emulator.clock(),
        )
        reply = handler(call)
    except TwilioError as error:
        return error.response()
    if reply.body is None:
        return Response(status_code=reply.status)
    return JSONResponse(reply.body, status_code=reply.status)


def _stamp(response: Response, emulator: Emulator) -> Response:
    # Twilio reports account concurrency in this header; clients may watch it.
    response.headers["Twilio-Concurrent-Requests"] = str(emulator.in_flight)
    return response
