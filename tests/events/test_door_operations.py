"""What may run over the WebSocket: subscriptions alone, through the same persisted
queries (APQ, safelist) as HTTP."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx

from gateway.emulator import Emulator
from tests.support import until
from tests.support.graphql_ws import connected
from tests.support.live import UPDATES, served

UPDATES_HASH = hashlib.sha256(UPDATES.encode()).hexdigest()
OTHER = """
subscription Other($flow: ID!, $execution: ID!) {
  executionUpdates(flowSid: $flow, executionSid: $execution) { __typename }
}
"""


def by_hash(digest: str) -> dict[str, Any]:
    return {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}}


async def test_with_a_safelist_only_its_subscriptions_run_as_over_http(
    emulator: Emulator, tmp_path: Path
) -> None:
    flow, execution, *_ = emulator.seeded_handles.active_execution
    variables = {"flow": flow, "execution": execution}
    manifest = tmp_path / "operations.json"
    manifest.write_text(json.dumps({UPDATES_HASH: UPDATES}))
    async with served(emulator, safelist_file=str(manifest)) as gateway:
        async with connected(gateway.url) as client:
            emulator.reset_counters()
            other = await client.subscribe(OTHER, variables)
            unknown = await client.subscribe(None, variables, **by_hash("0" * 64))
            await until(lambda: other.done.is_set() and unknown.done.is_set())
            assert gateway.subscribers == 0 and emulator.total_requests == 0
            listed = await client.subscribe(None, variables, **by_hash(UPDATES_HASH))
            await until(lambda: bool(listed.results))
        async with httpx.AsyncClient() as http:
            over_http = (await http.post(gateway.http + "/graphql", json={"query": OTHER})).json()
    assert other.errors == unknown.errors
    (error,) = other.errors
    (http_error,) = over_http["errors"]
    assert error["extensions"]["code"] == http_error["extensions"]["code"]
    assert error["extensions"]["code"] == "PERSISTED_QUERY_NOT_ALLOWED"
    assert error["message"] == http_error["message"]
    assert not listed.errors and listed.data


async def test_apq_over_the_websocket_asks_for_the_text_then_runs_it_by_hash(
    emulator: Emulator,
) -> None:
    flow, execution, *_ = emulator.seeded_handles.active_execution
    variables = {"flow": flow, "execution": execution}
    async with served(emulator) as gateway, connected(gateway.url) as client:
        first = await client.subscribe(None, variables, **by_hash(UPDATES_HASH))
        await until(first.done.is_set)
        registered = await client.subscribe(UPDATES, variables, **by_hash(UPDATES_HASH))
        again = await client.subscribe(None, variables, **by_hash(UPDATES_HASH))
        await until(lambda: bool(registered.results) and bool(again.results))
    assert [e["extensions"]["code"] for e in first.errors] == ["PERSISTED_QUERY_NOT_FOUND"]
    assert [e["message"] for e in first.errors] == ["PersistedQueryNotFound"]
    assert not registered.errors and not again.errors


async def test_queries_and_mutations_over_the_websocket_are_refused_and_never_run(
    emulator: Emulator,
) -> None:
    flow, *_ = emulator.seeded_handles.active_execution
    mutation = """
      mutation($flow: ID!) {
        createExecution(flowSid: $flow, to: "+15550100", from: "+15550199") { sid }
      }
    """
    async with served(emulator) as gateway, connected(gateway.url) as client:
        emulator.reset_counters()
        query = await client.subscribe("{ flows { nodes { sid } } }")
        change = await client.subscribe(mutation, {"flow": flow})
        # A subscription beside the query: the one the operation name picks runs.
        picked = await client.subscribe(
            "query Flows { flows { nodes { sid } } }\n" + OTHER, operationName="Flows"
        )
        await until(lambda: all(op.done.is_set() for op in (query, change, picked)))
        assert emulator.total_requests == 0
    for refused, kind in ((query, "query"), (change, "mutation"), (picked, "query")):
        assert not refused.results
        (error,) = refused.errors
        assert error["extensions"]["code"] == "BAD_REQUEST"
        assert f"only subscriptions run over the WebSocket: send this {kind}" in error["message"]
