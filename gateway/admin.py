"""The probes and the metrics: on the public port, or on a port of their own.

`/healthz` says the process serves (it never calls Twilio), `/readyz` whether
it is ready for traffic (503 while starting, draining, or while a required
Redis is away), `/metrics` the Prometheus text.

With `STUDIO_GATEWAY_ADMIN_PORT` the process listens on that port too
(`AdminServer`, which the app's lifespan starts and stops) and serves the three
there, and `/metrics` leaves the public port: what it tells (operations,
upstream errors, load) is for the operator, not for whoever can reach the
gateway. Clients' load never reaches that port. The probes stay on the public
port as well, for load balancers that probe the port they send traffic to.
Unset, all three stay on the public port, as before. Either way the HTTP bound
never refuses them (`gateway.server.HttpSlots`).

With `--workers`, each worker listens on the admin port (`SO_REUSEPORT`), as
they share the public one; `/readyz` answers for the worker that took the
connection, `/metrics` for them all (summed across workers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from uvicorn.server import ServerState

from gateway.observability.logs import log
from gateway.runtime import Gateway
from gateway.server import KEEP_ALIVE_TIMEOUT, SlowClientLimits, http_protocol
from gateway.settings import Settings

__all__ = ["AdminServer", "probe_routes"]

#: Seconds the admin port's open connections get to finish when the process stops.
_STOP_WAIT = 5.0


def probe_routes(*, metrics: bool = True) -> list[Route]:
    """`/healthz`, `/readyz`, and unless told otherwise `/metrics`."""
    routes = [Route("/healthz", _healthz), Route("/readyz", _readyz)]
    if metrics:
        routes.append(Route("/metrics", _metrics))
    return routes


async def _healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def _readyz(request: Request) -> Response:
    gateway = _gateway(request)
    if gateway is None:
        return JSONResponse({"status": "starting"}, status_code=503)
    ready, body = await gateway.readiness()
    return JSONResponse(body, status_code=200 if ready else 503)


async def _metrics(request: Request) -> Response:
    gateway = _gateway(request)
    if gateway is None:
        return Response(status_code=503)
    exported = gateway.metrics
    return Response(exported.render(), media_type=exported.content_type)


def _gateway(request: Request) -> Gateway | None:
    """The gateway in the lifespan state; None when no lifespan ran (a server with it off)."""
    gateway: Gateway | None = getattr(request.state, "gateway", None)
    return gateway


class AdminServer:
    """The admin port: a listener of this process, beside uvicorn's, for the probes and
    the metrics of the running `Gateway`."""

    def __init__(self, listener: asyncio.Server, state: ServerState) -> None:
        self._listener, self._state = listener, state

    def __repr__(self) -> str:
        return f"AdminServer(port={self.port})"

    @property
    def port(self) -> int:
        sockets = self._listener.sockets
        return int(sockets[0].getsockname()[1]) if sockets else 0

    @classmethod
    async def start(cls, settings: Settings, gateway: Gateway) -> AdminServer:
        """Listen on `admin_host` (else `host`) at `admin_port`."""
        app = Starlette(routes=probe_routes())
        config = uvicorn.Config(
            app,
            lifespan="off",
            ws="none",
            # uvicorn's loggers are the process's: the server's settings stand.
            log_config=None,
            log_level=None,
            timeout_keep_alive=KEEP_ALIVE_TIMEOUT,
            # Any protocol factory serves (as `options()` hands `serve`); the
            # annotation names classes alone.
            http=http_protocol(SlowClientLimits.from_settings(settings)),  # type: ignore[arg-type]
        )
        config.load()
        state = ServerState()
        # uvicorn's protocols hand each request a copy of this, as the lifespan's state.
        app_state: dict[str, Any] = {"gateway": gateway}
        host = settings.admin_host or settings.host

        def protocol() -> asyncio.Protocol:
            made: asyncio.Protocol = config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=state, app_state=app_state
            )
            return made

        listener = await asyncio.get_running_loop().create_server(
            protocol, host, settings.admin_port, reuse_port=settings.workers > 1
        )
        admin = cls(listener, state)
        log(logging.INFO, "admin port listening", host=host, port=admin.port)
        return admin

    async def stop(self) -> None:
        """Stop listening; close the open connections once their answers are sent."""
        self._listener.close()
        for connection in list(self._state.connections):
            connection.shutdown()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listener.wait_closed(), _STOP_WAIT)
