"""@defer and @stream over HTTP: parts for a client that reads multipart, one JSON for the rest.

Each answer is read as a client reads it (`tests.support.multipart_parts`):
the first part holds what was not deferred with `hasNext: true`, later parts
carry the deferred data at its `path`, the last says `hasNext: false`. The
parts put together equal the same query's answer without `@defer`, and the
upstream saw exactly the calls that query makes.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.emulator import Emulator
from gateway.graphql.incremental import accepts_incremental
from gateway.studio import ClientConfig, Transport
from tests.support import (
    FAST_RETRY,
    MULTIPART_ACCEPT,
    Gateway,
    gateway_settings,
    merge_parts,
    open_gateway,
    plain,
    read_multipart,
    serve,
)

EXECUTION = """query Execution($f: ID!, $e: ID!) { execution(flowSid: $f, sid: $e) {
  sid status dateCreated
  ... @defer(label: "steps") { steps(first: 5) { nodes { sid name transitionedTo } } } } }"""

FLOWS = """query Flows { flows(first: 3) { nodes { sid friendlyName ...Runs @defer } } }
fragment Runs on Flow { executions(first: 2) { nodes { sid status
  ... @defer { steps(first: 2) { nodes { name } } } } } }"""

STREAMED = """query($f: ID!) { flow(sid: $f) { friendlyName
  executions(first: 6) { nodes @stream(initialCount: 2) { sid status steps(first: 1) { nodes { name } } } } } }"""

EXECUTIONS_STEPS = "GET /v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Steps"


def ended(emulator: Emulator) -> dict[str, str]:
    flow, execution = emulator.seeded_handles.ended_execution
    return {"f": flow, "e": execution}


@pytest.fixture(params=["asgi", "socket"])
async def http(request: pytest.FixtureRequest, emulator: Emulator) -> AsyncIterator[Any]:
    """The gateway, through httpx's ASGI transport or served on a real socket."""
    if request.param == "asgi":
        async for gateway in open_gateway(emulator):
            yield gateway.http
        return
    url = request.getfixturevalue("emulator_url")
    transport = Transport(ClientConfig(base_url=url, retry=FAST_RETRY))
    app = create_app(gateway_settings(upstream_url=url), transport=transport)
    with serve(app) as gateway_url:
        async with httpx.AsyncClient(base_url=gateway_url, timeout=10) as client:
            yield client


async def post(
    http: httpx.AsyncClient,
    document: str,
    variables: dict[str, Any] | None = None,
    accept: str = MULTIPART_ACCEPT,
) -> httpx.Response:
    return await http.post(
        "/graphql",
        json={"query": document, "variables": variables or {}},
        headers={"Accept": accept},
    )


async def parts_and_calls(
    http: httpx.AsyncClient, emulator: Emulator, document: str, variables: dict[str, Any]
) -> tuple[list[dict[str, Any]], Counter[str]]:
    emulator.reset_counters()
    response = await post(http, document, variables)
    assert response.status_code == 200
    assert "deferSpec=20220824" in response.headers["content-type"]
    return await read_multipart(response), Counter(emulator.requests)


async def whole_and_calls(
    http: httpx.AsyncClient, emulator: Emulator, document: str, variables: dict[str, Any]
) -> tuple[dict[str, Any], Counter[str]]:
    emulator.reset_counters()
    response = await post(http, document, variables, accept="application/json")
    assert response.headers["content-type"] == "application/json"
    return response.json(), Counter(emulator.requests)


async def test_an_executions_header_comes_first_and_its_steps_after_at_their_path(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    variables = ended(emulator)

    parts, calls = await parts_and_calls(http, emulator, EXECUTION, variables)
    whole, whole_calls = await whole_and_calls(http, emulator, plain(EXECUTION), variables)

    first, *later = parts
    assert first["hasNext"] is True
    header = first["data"]["execution"]
    assert header["sid"] == variables["e"] and header["status"] == "ENDED"
    assert "steps" not in header
    assert first["extensions"]["cost"]["estimatedUpstreamCalls"] >= 2
    assert later and later[-1]["hasNext"] is False
    assert all(part["hasNext"] for part in later[:-1])
    (steps,) = [piece for part in later for piece in part.get("incremental", [])]
    assert steps["path"] == ["execution"] and steps["label"] == "steps"
    assert steps["data"]["steps"]["nodes"], "the ended reminder execution has steps"
    assert "errors" not in steps
    assert merge_parts(parts) == {"data": whole["data"]}
    assert calls == whole_calls, "deferring changes when a call is made, never which"


async def test_nested_defers_through_a_fragment_spread_make_the_plain_answer(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    parts, calls = await parts_and_calls(http, emulator, FLOWS, {})
    whole, whole_calls = await whole_and_calls(http, emulator, plain(FLOWS), {})

    assert len(parts) > 2
    paths = [piece["path"] for part in parts[1:] for piece in part.get("incremental", [])]
    assert ["flows", "nodes", 0] in paths
    assert ["flows", "nodes", 0, "executions", "nodes", 0] in paths
    assert merge_parts(parts) == {"data": whole["data"]}
    assert calls == whole_calls


async def test_a_streamed_connection_sends_its_first_items_then_the_rest_by_index(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    variables = {"f": emulator.seeded_handles.survey_flow_sid}

    parts, calls = await parts_and_calls(http, emulator, STREAMED, variables)
    whole, whole_calls = await whole_and_calls(http, emulator, plain(STREAMED), variables)

    assert len(parts[0]["data"]["flow"]["executions"]["nodes"]) == 2
    pieces = [piece for part in parts[1:] for piece in part.get("incremental", [])]
    assert pieces and all("items" in piece for piece in pieces)
    assert pieces[0]["path"] == ["flow", "executions", "nodes", 2]
    assert merge_parts(parts) == {"data": whole["data"]}
    assert len(whole["data"]["flow"]["executions"]["nodes"]) == 6
    assert calls == whole_calls


@pytest.mark.parametrize("accept", ["application/json", "*/*", None, "multipart/mixed;q=0"])
async def test_a_client_that_does_not_read_multipart_gets_the_whole_answer_in_one_json(
    gateway: Gateway, emulator: Emulator, accept: str | None
) -> None:
    variables = ended(emulator)
    whole = await gateway.query(plain(EXECUTION), variables)
    whole_calls = gateway.calls
    emulator.reset_counters()

    headers = {"Accept": accept} if accept else {}
    response = await gateway.http.post(
        "/graphql", json={"query": EXECUTION, "variables": variables}, headers=headers
    )

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == whole
    assert "hasNext" not in response.json()
    assert gateway.calls == whole_calls


@pytest.fixture
async def whole_execution(gateway: Gateway, emulator: Emulator) -> tuple[dict[str, str], Any]:
    """The variables for EXECUTION, and its data as one JSON."""
    variables = ended(emulator)
    return variables, await gateway.data(plain(EXECUTION), variables)


async def test_a_deferred_query_over_get_is_answered_in_parts(
    gateway: Gateway, whole_execution: tuple[dict[str, str], Any]
) -> None:
    variables, whole = whole_execution

    response = await gateway.http.get(
        "/graphql",
        params={"query": EXECUTION, "variables": json.dumps(variables)},
        headers={"Accept": MULTIPART_ACCEPT},
    )

    assert response.status_code == 200
    parts = await read_multipart(response)
    assert len(parts) > 1
    assert merge_parts(parts) == {"data": whole}


async def test_a_batch_is_answered_whole_even_for_a_multipart_client(
    gateway: Gateway, whole_execution: tuple[dict[str, str], Any]
) -> None:
    variables, whole = whole_execution

    response = await gateway.http.post(
        "/graphql",
        json=[{"query": EXECUTION, "variables": variables}, {"query": "{ __typename }"}],
        headers={"Accept": MULTIPART_ACCEPT},
    )

    assert response.headers["content-type"] == "application/json"
    first, second = response.json()
    assert first == {"data": whole, "extensions": first["extensions"]}
    assert second["data"] == {"__typename": "Query"}


@pytest.mark.parametrize(
    "accept", [MULTIPART_ACCEPT, "application/graphql-response+json", "application/json"]
)
async def test_an_unknown_operation_name_is_a_request_error_for_every_client(
    gateway: Gateway, accept: str
) -> None:
    response = await gateway.http.post(
        "/graphql",
        json={"query": EXECUTION, "operationName": "Nope"},
        headers={"Accept": accept},
    )

    # GraphQL over HTTP: a request error is a 400, but 200 for a legacy JSON-only client.
    assert response.status_code == (200 if accept == "application/json" else 400)
    assert "data" not in response.json()
    assert "Nope" in response.text
    assert "Unexpected error" not in response.text


async def test_a_query_that_defers_nothing_is_plain_json_for_a_multipart_client(
    gateway: Gateway, emulator: Emulator
) -> None:
    document = EXECUTION.replace('@defer(label: "steps")', '@defer(if: false, label: "steps")')
    response = await gateway.http.post(
        "/graphql",
        json={"query": document, "variables": ended(emulator)},
        headers={"Accept": MULTIPART_ACCEPT},
    )

    assert response.headers["content-type"] == "application/json"
    assert response.json()["data"]["execution"]["steps"]["nodes"]


@pytest.mark.parametrize(
    ("accept", "takes_parts"),
    [
        ("multipart/mixed;deferSpec=20220824,application/json", True),  # Apollo Client
        ('multipart/mixed; deferSpec="20220824"', True),
        ("application/json, multipart/mixed", True),
        ("Multipart/Mixed", True),
        ("multipart/mixed;deferSpec=20230621", False),
        ("multipart/mixed;boundary=graphql;subscriptionSpec=1.0,application/json", False),
        ("multipart/mixed;q=0", False),
        ("multipart/mixed;q=0.5", True),
        ("multipart/*", False),
        ("*/*", False),
        ("application/json", False),
        ("", False),
    ],
)
def test_which_accept_headers_take_parts(accept: str, takes_parts: bool) -> None:
    assert accepts_incremental(accept) is takes_parts
