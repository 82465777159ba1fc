"""The WebSocket's door: who may connect, from where, and how much one connection may run."""

from __future__ import annotations

import base64
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from gateway.emulator import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, Emulator
from gateway.security.auth import new_key
from tests.support import until
from tests.support.graphql_ws import PROTOCOL, connected, handshake
from tests.support.live import UPDATES, served

READER, READER_HASH = new_key()
FLOWS_ONLY, FLOWS_ONLY_HASH = new_key()
KEYS = json.dumps(
    [
        {"name": "reader", "sha256": READER_HASH, "scopes": ["executions:read"]},
        {"name": "flows", "sha256": FLOWS_ONLY_HASH, "scopes": ["flows:read"]},
    ]
)
SECURED = {"auth": "api_keys", "api_keys": KEYS, "cors_origins": "https://agents.example"}


async def test_a_connection_without_credentials_is_closed_at_init(emulator: Emulator) -> None:
    async with served(emulator, **SECURED) as gateway:
        async with connect(gateway.url, subprotocols=[PROTOCOL]) as socket:
            await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
            with pytest.raises(ConnectionClosed) as closed:
                await socket.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    assert "API key" in closed.value.rcvd.reason or "credentials" in closed.value.rcvd.reason


async def test_a_bad_token_is_refused_and_a_good_one_in_the_payload_is_let_in(
    emulator: Emulator,
) -> None:
    flow, execution, *_ = emulator.seeded_handles.active_execution
    async with served(emulator, **SECURED) as gateway:
        async with connect(gateway.url, subprotocols=[PROTOCOL]) as socket:
            with pytest.raises(ConnectionClosed) as closed:
                await handshake(socket, {"Authorization": "Bearer sgw_not-a-key"})
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
        async with connected(gateway.url, {"Authorization": f"Bearer {READER}"}) as client:
            updates = await client.subscribe(UPDATES, {"flow": flow, "execution": execution})
            await until(lambda: bool(updates.results))
    assert not updates.errors


async def test_the_handshake_headers_authenticate_too(emulator: Emulator) -> None:
    flow, execution, *_ = emulator.seeded_handles.active_execution
    async with (
        served(emulator, **SECURED) as gateway,
        connected(gateway.url, additional_headers={"X-API-Key": READER}) as client,
    ):
        updates = await client.subscribe(UPDATES, {"flow": flow, "execution": execution})
        await until(lambda: bool(updates.results))
    assert not updates.errors


async def test_a_key_without_executions_read_is_refused_the_subscription(
    emulator: Emulator,
) -> None:
    flow, execution, *_ = emulator.seeded_handles.active_execution
    async with (
        served(emulator, **SECURED) as gateway,
        connected(gateway.url, {"X-API-Key": FLOWS_ONLY}) as client,
    ):
        emulator.reset_counters()
        updates = await client.subscribe(UPDATES, {"flow": flow, "execution": execution})
        await until(updates.done.is_set)
        assert gateway.subscribers == 0
    assert [e["extensions"]["code"] for e in updates.errors] == ["FORBIDDEN"]
    assert not [u for u in updates.data if u]
    assert emulator.total_requests == 0


async def test_a_page_from_a_foreign_origin_cannot_open_a_websocket(emulator: Emulator) -> None:
    async with served(emulator, **SECURED) as gateway:
        with pytest.raises(InvalidStatus) as refused:
            await connect(
                gateway.url,
                subprotocols=[PROTOCOL],
                origin="https://evil.example",
            )
        assert refused.value.response.status_code == 403
        async with connected(
            gateway.url,
            {"X-API-Key": READER},
            origin="https://agents.example",
        ):
            pass


async def test_one_subscription_past_the_limit_gets_a_clear_error(emulator: Emulator) -> None:
    flow, execution, *_ = emulator.seeded_handles.active_execution
    variables = {"flow": flow, "execution": execution}
    async with (
        served(emulator, websocket_max_subscriptions=2) as gateway,
        connected(gateway.url) as client,
    ):
        running = [await client.subscribe(UPDATES, variables) for _ in range(2)]
        refused = await client.subscribe(UPDATES, variables)
        await until(refused.done.is_set)
        assert not any(op.done.is_set() for op in running)
        await client.complete(running[0])
        await until(lambda: gateway.subscribers == 1)
        again = await client.subscribe(UPDATES, variables)
        await until(lambda: bool(again.results))
    (error,) = refused.errors
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert "2 operations" in error["message"]
    assert not again.errors


async def test_connections_past_the_limit_are_refused(emulator: Emulator) -> None:
    async with served(emulator, websocket_max_connections=1) as gateway:
        async with connected(gateway.url):
            with pytest.raises((InvalidStatus, ConnectionClosed)):
                async with connect(gateway.url, subprotocols=[PROTOCOL]) as second:
                    await handshake(second)
        async with connected(gateway.url):
            pass  # the first one closed: room again


async def test_the_server_pings_and_the_connection_stays_open(emulator: Emulator) -> None:
    async with (
        served(emulator, websocket_ping_interval=0.01) as gateway,
        connected(gateway.url) as client,
    ):
        await until(lambda: client.pings >= 3)


async def test_a_subscription_over_the_cost_budget_is_refused_before_it_starts(
    emulator: Emulator,
) -> None:
    flow, execution, *_ = emulator.seeded_handles.active_execution
    dear = """
      subscription($flow: ID!, $execution: ID!) {
        executionUpdates(flowSid: $flow, executionSid: $execution) {
          ... on ExecutionStep { sid context parentStep { context } }
        }
      }
    """
    async with served(emulator, max_cost=2) as gateway, connected(gateway.url) as client:
        emulator.reset_counters()
        updates = await client.subscribe(dear, {"flow": flow, "execution": execution})
        await until(updates.done.is_set)
        assert gateway.subscribers == 0 and not gateway.live.pollers_started
    assert [e["extensions"]["code"] for e in updates.errors] == ["QUERY_TOO_EXPENSIVE"]
    assert emulator.total_requests == 0


async def test_pass_through_credentials_come_in_the_init_payload(emulator: Emulator) -> None:
    flow, execution, *_ = emulator.seeded_handles.active_execution
    basic = "Basic " + base64.b64encode(f"{DEMO_ACCOUNT_SID}:{DEMO_AUTH_TOKEN}".encode()).decode()
    async with served(emulator, upstream_credentials="passthrough") as gateway:
        async with connect(gateway.url, subprotocols=[PROTOCOL]) as socket:
            with pytest.raises(ConnectionClosed) as closed:
                await handshake(socket, {})
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
        async with connected(gateway.url, {"Authorization": basic}) as client:
            updates = await client.subscribe(UPDATES, {"flow": flow, "execution": execution})
            await until(lambda: bool(updates.results))
    assert not updates.errors


PII = """
subscription Pii($flow: ID!, $execution: ID!) {
  executionUpdates(flowSid: $flow, executionSid: $execution) {
    ... on ExecutionStep { sid context }
    ... on Execution { sid contactChannelAddress context }
  }
}
"""
CONTEXTS = (
    "GET /v2/Flows/{FlowSid}/Executions/{Sid}/Context",
    "GET /v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Steps/{StepSid}/Context",
)


@pytest.mark.parametrize("scopes", [["executions:read"], ["executions:read", "pii:read"]])
async def test_a_subscription_reads_contexts_and_contacts_only_with_pii_read(
    emulator: Emulator, scopes: list[str]
) -> None:
    key, digest = new_key()
    keys = json.dumps([{"name": "agent", "sha256": digest, "scopes": scopes}])
    ended = emulator.seeded_handles.ended_execution
    variables = {"flow": ended.flow_sid, "execution": ended.execution_sid}
    async with (
        served(emulator, auth="api_keys", api_keys=keys) as gateway,
        connected(gateway.url, {"X-API-Key": key}) as client,
    ):
        emulator.reset_counters()
        updates = await client.subscribe(PII, variables)
        await until(updates.done.is_set)
    contexts_read = sum(emulator.requests[route] for route in CONTEXTS)
    if "pii:read" in scopes:
        assert not updates.errors
        assert updates.data and all(update["context"] for update in updates.data)
        assert updates.data[-1]["contactChannelAddress"]
        assert 0 < contexts_read <= len(updates.data)
    else:
        assert {e["extensions"]["code"] for e in updates.errors} == {"FORBIDDEN"}
        assert all(update.get("context") is None for update in updates.data if update)
        assert all(update.get("contactChannelAddress") is None for update in updates.data if update)
        assert contexts_read == 0
