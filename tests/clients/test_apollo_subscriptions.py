"""Subscriptions as Apollo Client reads them: GraphQLWsLink over graphql-ws and `ws`.

The client is the real library pair a browser or React Native app runs
(tests/clients/package-lock.json pins them); it speaks graphql-transport-ws
with the gateway on a socket, so the protocol is checked by code this project
did not write.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.emulator import Emulator
from gateway.security.auth import new_key
from gateway.studio import ClientConfig, Transport
from tests.support import FAST_RETRY, gateway_settings, serve
from tests.support.node import CLIENTS, ensure_packages, run_node

UPDATES = """subscription Updates($flow: ID!, $execution: ID!) {
  executionUpdates(flowSid: $flow, executionSid: $execution) {
    __typename
    ... on ExecutionStep { sid name transitionedTo }
    ... on Execution { sid status }
  } }"""
STEPS = """query Steps($flow: ID!, $execution: ID!) {
  execution(flowSid: $flow, sid: $execution) { steps(first: 100) { nodes { sid } } } }"""

KEY, DIGEST = new_key()
KEYS = json.dumps([{"name": "agent", "sha256": DIGEST, "scopes": ["executions:read"]}])


@pytest.fixture
def gateway_url(emulator_url: str) -> Iterator[str]:
    transport = Transport(ClientConfig(base_url=emulator_url, retry=FAST_RETRY))
    settings = gateway_settings(upstream_url=emulator_url, auth="api_keys", api_keys=KEYS)
    with serve(create_app(settings, transport=transport)) as url:
        yield url


def subscribe(url: str, variables: dict[str, str], **params: str) -> dict[str, Any]:
    """What GraphQLWsLink delivered for `UPDATES` (see subscribe.mjs)."""
    ws_url = url.replace("http://", "ws://", 1) + "/graphql"
    argument = {"url": ws_url, "query": UPDATES, "variables": variables, "connectionParams": params}
    answer: dict[str, Any] = run_node("subscribe.mjs", json.dumps(argument))
    return answer


def test_apollo_gets_an_ended_executions_steps_in_order_then_the_execution(
    emulator: Emulator, gateway_url: str
) -> None:
    ended = emulator.seeded_handles.ended_execution
    variables = {"flow": ended.flow_sid, "execution": ended.execution_sid}
    got = subscribe(gateway_url, variables, Authorization=f"Bearer {KEY}")
    updates = [result["data"]["executionUpdates"] for result in got["results"]]
    assert got["completed"]
    assert all("errors" not in result for result in got["results"])
    *steps, last = updates
    assert last == {"__typename": "Execution", "sid": ended.execution_sid, "status": "ENDED"}
    assert {step["__typename"] for step in steps} == {"ExecutionStep"}
    listed = httpx.post(
        f"{gateway_url}/graphql",
        json={"query": STEPS, "variables": variables},
        headers={"Authorization": f"Bearer {KEY}"},
    ).json()["data"]["execution"]["steps"]["nodes"]
    # The Steps list is most recent first; the subscription oldest first, each once.
    assert [step["sid"] for step in steps] == [step["sid"] for step in reversed(listed)]


def test_apollo_without_a_key_is_refused_at_connection_init(
    emulator: Emulator, gateway_url: str
) -> None:
    ended = emulator.seeded_handles.ended_execution
    ensure_packages()
    ws_url = gateway_url.replace("http://", "ws://", 1) + "/graphql"
    argument = {
        "url": ws_url,
        "query": UPDATES,
        "variables": {"flow": ended.flow_sid, "execution": ended.execution_sid},
    }
    done = subprocess.run(
        ["node", "subscribe.mjs", json.dumps(argument)],
        cwd=CLIENTS,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "4403" in done.stderr, done.stderr
