"""Live executions end to end: webhook to WebSocket subscriber, latency and steps per second.

    python -m bench.live            # 300 subscribers over 30 connections, 10 executions
    python -m bench.live --quick    # a smoke run

The gateway runs as its own process (`studio-gateway serve`, the webhook on,
so subscriptions are fed by Event Streams, no poller). In this process: the
emulator on a socket (the gateway's upstream, for the steps a subscription
starts with) and its live mode, which advances the executions and delivers
their signed webhooks; and the subscribers, `websockets` connections speaking
graphql-transport-ws, each connection watching every execution. Latency is
from the moment the webhook POST carrying a step starts to the moment a
subscriber reads that step's `next` message: signature check, parsing,
de-duplication, publishing, the reorder window, the subscription and the
socket. Run once without the reorder window and once with the default.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from typing import Any

import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from bench.common import gateway_server, percentile
from gateway.emulator import Emulator, create_app
from gateway.emulator.eventstreams import CloudEvent
from gateway.emulator.live import LiveMode, LiveOptions
from tests.support import free_port, until

UPDATES = """
subscription Updates($flow: ID!, $execution: ID!) {
  executionUpdates(flowSid: $flow, executionSid: $execution) {
    ... on ExecutionStep { sid name transitionedTo dateCreated }
    ... on Execution { sid status }
  }
}
"""


class TimedLive(LiveMode):
    """The live mode, noting when each step's delivery starts."""

    sent: dict[str, float]

    async def deliver(self, events: list[CloudEvent], *, forged: bool = False) -> int:
        now = time.perf_counter()
        for event in events:
            self.sent.setdefault(event["data"].get("step_sid") or "", now)
        return await super().deliver(events, forged=forged)


class Subscribers:
    """One connection's subscriptions; each step read is a latency sample."""

    def __init__(self, socket: ClientConnection, sent: dict[str, float]) -> None:
        self.socket, self.sent = socket, sent
        self.latencies: list[float] = []
        self.steps = 0
        self.open: set[str] = set()

    async def subscribe(self, flows: dict[str, str]) -> None:
        await self.socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await self.socket.recv())["type"] == "connection_ack"
        for sid, flow in flows.items():
            self.open.add(sid)
            variables = {"flow": flow, "execution": sid}
            payload = {"query": UPDATES, "variables": variables}
            await self.socket.send(json.dumps({"id": sid, "type": "subscribe", "payload": payload}))

    async def read(self) -> None:
        while self.open:
            message = json.loads(await self.socket.recv())
            now = time.perf_counter()
            kind = message["type"]
            if kind == "ping":
                await self.socket.send(json.dumps({"type": "pong"}))
            elif kind == "next":
                update = message["payload"]["data"]["executionUpdates"]
                started = self.sent.get(update.get("sid", ""))
                if started is not None:
                    self.steps += 1
                    self.latencies.append((now - started) * 1000)
            elif kind in ("complete", "error"):
                self.open.discard(message["id"])


def emulator_server(emulator: Emulator) -> tuple[str, uvicorn.Server]:
    """The emulator on a free port (served by `measure`, in its loop); its URL."""
    port = free_port()
    config = uvicorn.Config(create_app(emulator), host="127.0.0.1", port=port, log_level="error")
    return f"http://127.0.0.1:{port}", uvicorn.Server(config)


async def measure(
    emulator: Emulator, server: uvicorn.Server, gateway: str, args: argparse.Namespace
) -> None:
    serving = asyncio.create_task(server.serve())
    await until(lambda: server.started)
    live = TimedLive(
        emulator,
        LiveOptions(url=gateway + "/webhooks/twilio/events", step_interval=args.interval),
    )
    live.sent = {}
    sids = [live.start_execution() for _ in range(args.executions)]
    flows = {sid: live.emitted[sid][0]["data"]["flow_sid"] for sid in sids}
    ws = "ws" + gateway.removeprefix("http") + "/graphql"
    async with contextlib.AsyncExitStack() as stack:
        sockets = [
            await stack.enter_async_context(
                connect(ws, subprotocols=[Subprotocol("graphql-transport-ws")])
            )
            for _ in range(args.connections)
        ]
        clients = [Subscribers(socket, live.sent) for socket in sockets]
        for client in clients:
            await client.subscribe(flows)
        readers = [asyncio.create_task(client.read()) for client in clients]
        await asyncio.sleep(1.0)  # every subscription has read its (empty) past
        started = time.perf_counter()
        while live.live:
            await live.advance()
            await asyncio.sleep(args.interval)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*readers), 30)
        elapsed = time.perf_counter() - started
    await live.stop()
    server.should_exit = True
    await serving
    latencies = [ms for client in clients for ms in client.latencies]
    steps = sum(client.steps for client in clients)
    expected = sum(len(live.emitted[sid]) - 2 for sid in sids) * args.connections
    print(
        f"{args.connections * args.executions:>4} subscribers  "
        f"reorder {args.reorder:.2f} s  steps {steps}/{expected}  "
        f"p50 {percentile(latencies, 0.5):7.1f} ms  p99 {percentile(latencies, 0.99):7.1f} ms  "
        f"{steps / elapsed:8.0f} steps/s delivered"
    )


def run(args: argparse.Namespace) -> None:
    emulator = Emulator.seeded(seed=11, flows=6, executions_per_flow=2, steps_per_execution=4)
    upstream, server = emulator_server(emulator)
    settings: dict[str, Any] = {
        "STUDIO_GATEWAY_EVENTS": "true",
        "STUDIO_GATEWAY_EVENTS_REORDER_WINDOW": str(args.reorder),
    }
    with gateway_server(upstream, cache=False, **settings) as gateway:
        asyncio.run(measure(emulator, server, gateway.url, args))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between rounds")
    args = parser.parse_args()
    args.connections, args.executions = (3, 2) if args.quick else (30, 10)
    for reorder in (0.0, 0.25):
        args.reorder = reorder
        run(args)


if __name__ == "__main__":
    main()
