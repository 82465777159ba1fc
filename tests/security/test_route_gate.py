"""The gate guards the GraphQL route itself: under a root path, by any path the
router accepts, a request without credentials is refused before any upstream
call; and a request that reaches GraphQL without passing the gate holds no scope."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from strawberry.asgi import GraphQL

from gateway.app import create_app
from gateway.emulator import Emulator
from gateway.endpoint import GatewayGraphQL
from gateway.graphql import build_schema
from gateway.runtime import build_gateway
from tests.security.test_auth import KEYS, READER, api_keys
from tests.support import asgi_client, asgi_transport, codes, gateway_settings, serve, with_state

ROOT = "/studio"
CONTEXT = (
    "query($f: ID!, $e: ID!) { execution(flowSid: $f, sid: $e) { contactChannelAddress context } }"
)
CREATE = 'mutation($f: ID!) { createExecution(flowSid: $f, to: "+15005550006", from: "+15005550001") { sid } }'


def settings(**overrides: Any) -> Any:
    values: dict[str, Any] = {
        "environment": "production",
        "max_cost": 500,
        "auth": "api_keys",
        "api_keys": api_keys(**KEYS),
        **overrides,
    }
    return gateway_settings(**values)


async def attacks(http: httpx.AsyncClient, path: str, emulator: Emulator) -> list[httpx.Response]:
    """What the review sent with no credentials: a contact's PII, a mutation, a 200 KB body, a GET."""
    handles = emulator.seeded_handles
    flow_sid, execution_sid = handles.ended_execution
    padding = {"pad": "x" * 200_000}
    return [
        await http.post(
            path, json={"query": CONTEXT, "variables": {"f": flow_sid, "e": execution_sid}}
        ),
        await http.post(path, json={"query": CREATE, "variables": {"f": handles.survey_flow_sid}}),
        await http.post(
            path,
            content=json.dumps({"query": "{ flows { nodes { sid } } }", "variables": padding}),
            headers={"Content-Type": "application/json"},
        ),
        await http.get(path, params={"query": "{ flows { nodes { sid } } }"}),
    ]


@asynccontextmanager
async def over_asgi(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings(), transport=asgi_transport(emulator))
    async with asgi_client(app, root_path=ROOT) as http:
        yield http


async def test_under_a_root_path_no_credentials_is_401_over_a_socket(emulator: Emulator) -> None:
    # `uvicorn --root-path /studio` expects the proxy to have taken the prefix off:
    # it serves /graphql, and /studio/graphql is another path (it prefixes the root).
    app = create_app(settings(), transport=asgi_transport(emulator))
    with serve(app, root_path=ROOT) as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            emulator.reset_counters()
            refused = await attacks(http, "/graphql", emulator)
            elsewhere = await attacks(http, f"{ROOT}/graphql", emulator)
            calls = emulator.total_requests
            # The route itself still serves a caller with a key.
            allowed = await http.post(
                "/graphql",
                json={"query": "{ flows(first: 1) { nodes { sid } } }"},
                headers={"X-API-Key": READER},
            )
    assert [r.status_code for r in refused] == [401] * len(refused)
    assert all(codes(r.json()) == ["UNAUTHENTICATED"] for r in refused)
    assert [r.status_code for r in elsewhere] == [404] * len(elsewhere)
    assert calls == 0
    assert allowed.status_code == 200 and allowed.json()["data"]["flows"]["nodes"]


@pytest.mark.parametrize("path", [f"{ROOT}/graphql", "/graphql"])
async def test_under_a_root_path_no_credentials_is_401_over_asgi(
    emulator: Emulator, path: str
) -> None:
    async with over_asgi(emulator) as http:
        emulator.reset_counters()
        refused = await attacks(http, path, emulator)
    assert [r.status_code for r in refused] == [401] * len(refused)
    assert emulator.total_requests == 0


async def test_graphql_reached_without_the_gate_holds_no_scope(emulator: Emulator) -> None:
    # Authentication off: had the gate run, this caller would hold every scope.
    plain = gateway_settings(environment="production", max_cost=500)
    gateway = build_gateway(plain, transport=asgi_transport(emulator))
    graphql = GatewayGraphQL(plain)
    handles = emulator.seeded_handles
    flow_sid, execution_sid = handles.ended_execution
    try:
        transport = httpx.ASGITransport(app=with_state(graphql, {"gateway": gateway}))
        async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as http:
            emulator.reset_counters()
            read = await http.post(
                "/", json={"query": CONTEXT, "variables": {"f": flow_sid, "e": execution_sid}}
            )
            create = await http.post(
                "/", json={"query": CREATE, "variables": {"f": handles.survey_flow_sid}}
            )
    finally:
        await gateway.aclose()
    assert read.json()["data"] == {"execution": None}
    assert codes(read.json()) == ["FORBIDDEN"]
    # A mutation is refused whole before it runs (its payload needs read scopes too).
    assert not (create.json().get("data") or {}).get("createExecution")
    assert set(codes(create.json())) == {"FORBIDDEN"}
    assert emulator.total_requests == 0


async def test_a_context_without_a_principal_holds_no_scope_over_a_socket() -> None:
    """The schema mounted on strawberry's own view, whose context (a dict) names no
    principal: every check reads that as no scope, so a mutation is refused whole
    before it runs, as for a request the gate never saw."""
    app = GraphQL(build_schema(introspection=False, suggestions=False))
    reading = CREATE.replace("{ sid }", "{ sid contactChannelAddress }")
    with serve(app) as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            create = await http.post(
                "/", json={"query": reading, "variables": {"f": "FW" + "0" * 32}}
            )
    assert create.json()["data"] is None
    assert set(codes(create.json())) == {"FORBIDDEN"}
