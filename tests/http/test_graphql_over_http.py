"""GraphQL over HTTP: media types, status codes and error shapes, as the spec asks.

The whole audit of graphql-http (the reference implementation's conformance
suite) runs against a real gateway on a socket; the Python tests pin each
answer's shape over HTTP.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.emulator import Emulator
from tests.support import asgi_transport, codes, gateway_settings, run_node, secured, serve

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
FLOWS = "{ flows(first: 1) { nodes { sid } } }"


def test_the_graphql_over_http_audit_passes_every_item(emulator: Emulator) -> None:
    # Production settings, but with introspection: the audit's documents ask `__type`.
    settings = gateway_settings(environment="production", introspection=True, max_cost=500)
    app = create_app(settings, transport=asgi_transport(emulator))
    with serve(app) as url:
        results = run_node("audit.mjs", f"{url}/graphql", timeout=300)

    assert len(results) > 50
    failing = [
        f"{r['status']}: {r['name']} ({r['reason']})" for r in results if r["status"] != "ok"
    ]
    assert not failing, "\n".join(failing)


async def send(
    emulator: Emulator, accept: str | None, *, method: str = "POST", **request: Any
) -> httpx.Response:
    headers = {"Accept": accept} if accept is not None else {}
    async with secured(emulator) as http:
        return await http.request(method, "/graphql", headers=headers, **request)


def media(response: httpx.Response) -> str:
    return response.headers["content-type"].split(";")[0]


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE}, {JSON};q=0.9", GRAPHQL_RESPONSE),
        (f"{JSON}, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),
        (JSON, JSON),
        (f"{GRAPHQL_RESPONSE};q=0.5, {JSON}", JSON),
        ("*/*", JSON),
        (None, JSON),
    ],
)
async def test_the_answer_comes_in_the_media_type_the_client_prefers(
    emulator: Emulator, accept: str | None, expected: str
) -> None:
    response = await send(emulator, accept, json={"query": FLOWS})
    assert response.status_code == 200
    assert media(response) == expected
    assert response.json()["data"]["flows"]["nodes"]


# A document that does not parse, one that does not validate, variables that
# do not coerce, an operation that is not there, a limit: nothing runs.
REQUEST_ERRORS = [
    pytest.param(
        {"query": "{ flows(first: 1) { nodes { sid } }"}, "GRAPHQL_PARSE_FAILED", id="parse"
    ),
    pytest.param({"query": "{ flows { nope } }"}, "GRAPHQL_VALIDATION_FAILED", id="validation"),
    pytest.param(
        {
            "query": "query F($n: Int!) { flows(first: $n) { nodes { sid } } }",
            "variables": {"n": "many"},
        },
        "BAD_USER_INPUT",
        id="variables",
    ),
    pytest.param(
        {"query": "query A { flows { nodes { sid } } }", "operationName": "B"},
        "OPERATION_RESOLUTION_FAILURE",
        id="operation-name",
    ),
    pytest.param(
        {
            "query": "{ flows { nodes { executions { nodes { steps { nodes { execution { steps { nodes { execution { steps { nodes { sid } } } } } } } } } } } } }"
        },
        "QUERY_TOO_COMPLEX",
        id="limit",
    ),
]


@pytest.mark.parametrize(
    ("accept", "status"),
    [
        pytest.param(GRAPHQL_RESPONSE, 400, id="graphql-response+json"),
        # Clients of application/json read GraphQL errors from a 200, as they always have.
        pytest.param(JSON, 200, id="json"),
    ],
)
@pytest.mark.parametrize(("body", "code"), REQUEST_ERRORS)
async def test_a_request_error_answers_no_data_with_the_status_of_its_media_type(
    emulator: Emulator, accept: str, status: int, body: dict[str, Any], code: str
) -> None:
    response = await send(emulator, accept, json=body)
    assert response.status_code == status
    assert media(response) == accept
    result = response.json()
    assert "data" not in result
    assert codes(result) == [code]
    assert emulator.total_requests == 0


async def test_the_unknown_operation_is_named_in_the_error(emulator: Emulator) -> None:
    response = await send(
        emulator, JSON, json={"query": "query A { __typename }", "operationName": "B"}
    )
    assert response.json()["errors"][0]["message"] == 'Unknown operation named "B".'


async def test_a_field_error_keeps_the_data_and_a_2xx_status(emulator: Emulator) -> None:
    document = '{ flow(sid: "FW00000000000000000000000000000000") { sid } flows(first: 1) { nodes { sid } } }'
    response = await send(emulator, GRAPHQL_RESPONSE, json={"query": document})
    assert response.status_code == 200
    result = response.json()
    assert result["data"]["flow"] is None and result["data"]["flows"]["nodes"]
    assert codes(result) == ["NOT_FOUND"]


@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE, JSON])
@pytest.mark.parametrize(
    "request_",
    [
        pytest.param({"json": {}}, id="no-query"),
        pytest.param({"json": {"query": None}}, id="null-query"),
        pytest.param({"json": {"query": 7}}, id="query-not-a-string"),
        pytest.param({"json": {"query": FLOWS, "variables": "x"}}, id="variables-not-a-map"),
        pytest.param({"json": {"query": FLOWS, "operationName": 7}}, id="name-not-a-string"),
        pytest.param({"method": "GET"}, id="get-without-query"),
        pytest.param({"method": "GET", "params": {"variables": "{}"}}, id="get-variables-only"),
    ],
)
async def test_a_malformed_request_is_a_json_400(
    emulator: Emulator, accept: str, request_: dict[str, Any]
) -> None:
    response = await send(emulator, accept, **request_)
    assert response.status_code == 400
    assert media(response) == accept
    result = response.json()
    assert codes(result) == ["BAD_REQUEST"]
    assert result["errors"][0]["message"]


UPDATES = """subscription Watch($f: ID!, $e: ID!) {
  executionUpdates(flowSid: $f, executionSid: $e) { __typename } }"""


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_a_subscription_over_http_is_told_to_use_the_websocket(
    emulator: Emulator, method: str
) -> None:
    ended = emulator.seeded_handles.ended_execution
    operation = {
        "query": UPDATES,
        "variables": {"f": ended.flow_sid, "e": ended.execution_sid},
    }
    if method == "POST":
        response = await send(emulator, JSON, json=operation)
    else:
        params = {"query": UPDATES, "variables": json.dumps(operation["variables"])}
        response = await send(emulator, JSON, method="GET", params=params)
    assert response.status_code == 400
    assert codes(response.json()) == ["BAD_REQUEST"]
    assert "WebSocket" in response.json()["errors"][0]["message"]
    assert emulator.total_requests == 0


async def test_a_document_with_a_subscription_may_still_run_its_query_by_name(
    emulator: Emulator,
) -> None:
    document = f"query Flows {FLOWS} {UPDATES}"
    response = await send(emulator, JSON, json={"query": document, "operationName": "Flows"})
    assert response.status_code == 200
    assert response.json()["data"]["flows"]["nodes"]
