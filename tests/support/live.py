"""For the live tests: a gateway served by a real uvicorn server in the test's own event loop, over the emulator.

In the test's loop (not a thread), so a test can publish on the gateway's broker
and move the emulator on between the messages it reads.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette

from gateway import studio
from gateway.app import create_app
from gateway.cache import Cache
from gateway.emulator import Emulator, render
from gateway.emulator.progress import take_step
from gateway.emulator.records import ExecutionRecord, StepRecord
from gateway.events import STEP_ENDED, StudioEvent
from gateway.events.watch import Live
from gateway.runtime import Gateway
from gateway.security.documents import DocumentStore
from gateway.server import options
from gateway.studio import ClientConfig
from tests.support.emulator import FAST_RETRY, asgi_transport
from tests.support.gateway import gateway_settings
from tests.support.graphql_ws import Operation
from tests.support.servers import free_port
from tests.support.waiting import until

#: The host of the records' URLs (Twilio's own, as Event Streams would carry).
BASE = "https://studio.twilio.com"
STEPS = "GET /v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Steps"

UPDATES = """
subscription Updates($flow: ID!, $execution: ID!) {
  executionUpdates(flowSid: $flow, executionSid: $execution) {
    __typename
    ... on ExecutionStep { sid name transitionedFrom transitionedTo type dateCreated }
    ... on Execution { sid status }
  }
}
"""

#: Polls fast, so a test waits little for the next one.
FAST_POLLING = {"events_poll_interval": 0.02, "events_poll_max_interval": 0.1}


@dataclass
class Served:
    url: str
    app: Starlette
    #: The lifespan's state, as uvicorn hands it to each request.
    state: dict[str, Any]

    @property
    def http(self) -> str:
        """The same server's HTTP base URL."""
        return "http" + self.url.removeprefix("ws").removesuffix("/graphql")

    @property
    def webhook(self) -> str:
        """Where Event Streams deliveries go (with `events` on)."""
        return self.http + self.gateway.settings.events_path

    @property
    def gateway(self) -> Gateway:
        gateway: Gateway = self.state["gateway"]
        return gateway

    @property
    def live(self) -> Live:
        assert self.gateway.live is not None
        return self.gateway.live

    @property
    def subscribers(self) -> int:
        """Subscriptions this replica serves now."""
        return self.live.subscriptions


@asynccontextmanager
async def served(
    emulator: Emulator,
    *,
    cache: Cache | None = None,
    documents: DocumentStore | None = None,
    shared_reads: bool = True,
    uvicorn_options: dict[str, Any] | None = None,
    **settings: Any,
) -> AsyncIterator[Served]:
    """The gateway on a real socket; its `/graphql` WebSocket URL.

    `shared_reads=False` turns single flight off, so each read the gateway makes
    is one the emulator counts (identical reads at once otherwise share a call).
    uvicorn runs as `studio-gateway serve` runs it, but for `uvicorn_options`.
    """
    config = ClientConfig(
        base_url="http://emulator.test", retry=FAST_RETRY, single_flight=shared_reads
    )
    chosen = gateway_settings(**{**FAST_POLLING, **settings})
    app = create_app(
        chosen, transport=asgi_transport(emulator, config), cache=cache, documents=documents
    )
    port = free_port()
    # uvicorn as `studio-gateway serve` runs it: its protocols, slots and bounds.
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        **{**options(chosen), **(uvicorn_options or {})},
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await until(lambda: server.started)
    try:
        yield Served(f"ws://127.0.0.1:{port}/graphql", app, server.lifespan.state)
    finally:
        server.should_exit = True
        await task


def _execution_record(emulator: Emulator, flow: str, execution: str) -> ExecutionRecord:
    record = emulator.account(emulator.account_sid).execution(flow, execution)
    assert record is not None
    return record


def step_event(emulator: Emulator, flow: str, execution: str, step: StepRecord) -> StudioEvent:
    """What Event Streams would say of an emulator's step: its record, without `type`."""
    record = _execution_record(emulator, flow, execution)
    rest = studio.ExecutionStep.from_json(render.step(record, step, BASE))
    return StudioEvent(
        id=f"test:{step.sid}",
        type=STEP_ENDED,
        time=step.date_created,
        account_sid=record.account_sid,
        flow_sid=flow,
        execution_sid=execution,
        step=dataclasses.replace(rest, type=None, context=None),
    )


def execution_event(emulator: Emulator, flow: str, execution: str, kind: str) -> StudioEvent:
    """An execution's started or ended event, with the emulator's record of it."""
    record = _execution_record(emulator, flow, execution)
    rest = studio.Execution.from_json(render.execution(record, BASE))
    return StudioEvent(
        id=f"test:{execution}:{kind}",
        type=kind,
        time=record.date_updated or record.date_created,
        account_sid=record.account_sid,
        flow_sid=flow,
        execution_sid=execution,
        execution=rest,
    )


async def rest_steps(client: studio.StudioClient, flow: str, execution: str) -> list[str]:
    """The Steps list's SIDs, oldest first."""
    return [s.sid async for s in client.iter_execution_steps(flow, execution)][::-1]


def step_sids(operation: Operation) -> list[str]:
    """The SIDs of the steps a subscription sent, in the order it sent them."""
    return [u["sid"] for u in operation.data if u["__typename"] == "ExecutionStep"]


def arrived(operation: Operation, count: int) -> Callable[[], bool]:
    return lambda: len(operation.results) >= count


def sample(text: str, name: str) -> float:
    """One sample's value in Prometheus text (0 when absent)."""
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def late_step(emulator: Emulator, flow: str, execution: str) -> StepRecord:
    """A step of an ended execution that its Steps list shows only now (Twilio's step
    logs are best-effort: the list may lag behind the execution's status)."""
    record = _execution_record(emulator, flow, execution)
    status, record.status = record.status, "active"
    try:
        return take_step(emulator, flow, execution, name="late")
    finally:
        record.status = status
