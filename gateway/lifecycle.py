"""What runs beside the requests while the app lives: the SIGTERM drain, the
sampling of gauges, and the garbage collector's start for a server process.

On SIGTERM readiness turns 503 at once; after the drain delay open WebSockets
are closed with 1001 (going away: their clients connect again elsewhere), then
the server's own handler runs: it stops accepting, lets in-flight requests
finish (bounded by the grace period) and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from gateway.observability.logs import log
from gateway.runtime import Gateway


def tune_gc() -> None:
    """Keep what start-up built out of every later collection.

    A process that serves has ~115,000 long-lived objects (modules, the schema);
    each full collection walked them all. Measured on Q1 of `bench/mesh.py` in
    one process: 4.4 ms of collection per request with CPython's defaults, 2.2
    ms after `gc.freeze()`. (A young threshold of 10,000 on top took it to 1.4 ms,
    but `bench.soak` then saw the resident size creep by 3-4 MB a minute under
    load, where with the default threshold it stays flat: not worth it.) Only for
    `studio-gateway serve`: in a test process, frozen objects would never be freed.
    """
    gc.collect()
    gc.freeze()


def drain_on_sigterm(
    gateway: Gateway,
    drain_seconds: float,
    *,
    before_stop: Callable[[], Awaitable[None]] | None = None,
) -> Callable[[], None]:
    """Chain onto the server's SIGTERM handler: mark draining now, run `before_stop`
    (closing WebSockets) after the drain, then stop.

    Only possible on the main thread (a real server); elsewhere it does nothing.
    """
    try:
        previous = signal.getsignal(signal.SIGTERM)
    except ValueError:
        return lambda: None
    loop = asyncio.get_running_loop()
    stopping: set[asyncio.Task[None]] = set()

    async def stop(signum: int, frame: Any) -> None:
        if before_stop is not None:
            try:
                await before_stop()
            except Exception:  # the server must stop all the same
                log(logging.WARNING, "closing before the stop failed")
        if callable(previous):
            previous(signum, frame)

    def after_drain(signum: int, frame: Any) -> None:
        task = loop.create_task(stop(signum, frame))
        stopping.add(task)
        task.add_done_callback(stopping.discard)

    def on_sigterm(signum: int, frame: Any) -> None:
        gateway.draining = True
        log(logging.INFO, "draining", drain_seconds=drain_seconds)
        if callable(previous):
            # Signal handlers must not touch the loop directly; this call is safe.
            loop.call_soon_threadsafe(loop.call_later, drain_seconds, after_drain, signum, frame)

    try:
        signal.signal(signal.SIGTERM, on_sigterm)
    except ValueError:  # not the main thread
        return lambda: None

    def restore() -> None:
        with contextlib.suppress(ValueError):
            signal.signal(signal.SIGTERM, previous)

    return restore


async def sample_in_flight(gateway: Gateway, websockets: Callable[[], int] = lambda: 0) -> None:
    """Sample the gauges (calls in flight, tasks, circuit, Redis, open `websockets`,
    subscriptions, pollers) each second, until cancelled.

    A gauge sampled each second works in every process of a multi-worker server.
    """
    transport = gateway.client.transport
    while True:
        gateway.metrics.sample(
            in_flight=transport.in_flight,
            tasks=len(asyncio.all_tasks()),
            circuit=transport.circuit.stats,
        )
        if gateway.shared is not None:
            gateway.metrics.sample_redis(up=gateway.shared.up, failures=gateway.shared.failures)
        if gateway.live is not None:
            gateway.metrics.sample_live(
                websockets=websockets(),
                subscriptions=gateway.live.subscriptions,
                pollers=gateway.live.running,
            )
        await asyncio.sleep(1.0)
