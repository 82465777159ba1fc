"""Classic attacks on a public GraphQL endpoint, each refused as documented, with
zero upstream calls."""

from __future__ import annotations

import json

import pytest

from gateway.emulator import Emulator
from tests.support import codes, secured

FLOWS = "{ flows(first: 1) { nodes { sid } } }"


async def post(emulator: Emulator, document: str, **settings: object) -> dict:
    """POST one operation; GraphQL errors still answer HTTP 200."""
    async with secured(emulator, **settings) as http:
        emulator.reset_counters()
        response = await http.post("/graphql", json={"query": document})
        assert response.status_code == 200
        return response.json()


async def test_deep_nesting_is_refused(emulator: Emulator) -> None:
    deep = "{ flows { nodes { executions { nodes { steps { nodes { execution { steps { nodes { execution { steps { nodes { sid } } } } } } } } } } } } }"
    body = await post(emulator, deep)
    assert codes(body) == ["QUERY_TOO_COMPLEX"]
    assert body["errors"][0]["extensions"]["limit"] == "depth"
    assert emulator.total_requests == 0


async def test_aliases_are_counted_after_fragments_are_expanded(emulator: Emulator) -> None:
    fragment = (
        "fragment F on Query { "
        + " ".join(f"a{i}: flows(first: 1) {{ nodes {{ sid }} }}" for i in range(8))
        + " }"
    )
    document = "{ ...F ...F ...F ...F ...F } " + fragment  # 8 aliases written, 40 expanded
    body = await post(emulator, document)
    assert codes(body) == ["QUERY_TOO_COMPLEX"]
    assert body["errors"][0]["extensions"]["limit"] == "aliases"
    assert body["errors"][0]["extensions"]["actual"] == 40
    assert emulator.total_requests == 0


async def test_field_duplication_is_stopped_by_the_token_limit(emulator: Emulator) -> None:
    document = "{ flows { nodes { " + "sid " * 3000 + "} } }"
    body = await post(emulator, document)
    assert codes(body) == ["QUERY_TOO_COMPLEX"]
    assert body["errors"][0]["extensions"]["limit"] == "tokens"
    assert emulator.total_requests == 0


async def test_fragment_cycles_are_a_validation_error(emulator: Emulator) -> None:
    document = (
        "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A flows { nodes { sid } } }"
    )
    body = await post(emulator, document)
    assert set(codes(body)) == {"GRAPHQL_VALIDATION_FAILED"}
    assert emulator.total_requests == 0


async def test_directive_overloading_is_refused(emulator: Emulator) -> None:
    # 25 directives on 25 distinct (aliased) fields: valid GraphQL, over the limit of 20.
    fields = " ".join(f"s{i}: sid @include(if: true)" for i in range(25))
    body = await post(emulator, "{ flows(first: 1) { nodes { " + fields + " } } }")
    assert codes(body) == ["QUERY_TOO_COMPLEX"]
    assert body["errors"][0]["extensions"]["limit"] == "directives"
    assert emulator.total_requests == 0


async def test_a_fragment_bomb_does_not_cost_cpu_or_calls(emulator: Emulator) -> None:
    # Each fragment spreads the next twice: 2^20 fields if expanded naively.
    parts = ["fragment F0 on FlowConnection { nodes { sid } }"]
    for i in range(1, 21):
        parts.append(f"fragment F{i} on FlowConnection {{ ...F{i - 1} ...F{i - 1} }}")
    document = "{ flows { ...F20 } } " + " ".join(parts)
    body = await post(emulator, document)
    assert codes(body) == ["QUERY_TOO_COMPLEX"]
    assert emulator.total_requests == 0


async def test_batch_flooding_is_refused(emulator: Emulator) -> None:
    async with secured(emulator) as http:
        emulator.reset_counters()
        batch = [{"query": FLOWS}] * 11
        response = await http.post("/graphql", json=batch)
    assert response.status_code == 400
    assert codes(response.json()) == ["BAD_REQUEST"]
    assert emulator.total_requests == 0


@pytest.mark.parametrize("first", [0, -1, 1001, 100000])
async def test_huge_or_negative_first_is_refused(emulator: Emulator, first: int) -> None:
    body = await post(emulator, f"{{ flows(first: {first}) {{ nodes {{ sid }} }} }}")
    assert codes(body) == ["BAD_USER_INPUT"]
    assert emulator.total_requests == 0


async def test_an_oversized_body_is_413(emulator: Emulator) -> None:
    async with secured(emulator, max_body_bytes=4096) as http:
        emulator.reset_counters()
        response = await http.post(
            "/graphql", json={"query": FLOWS, "variables": {"pad": "x" * 10_000}}
        )
    assert response.status_code == 413
    assert codes(response.json()) == ["BAD_REQUEST"]
    assert emulator.total_requests == 0


async def test_introspection_and_suggestions_are_off_in_production(emulator: Emulator) -> None:
    body = await post(emulator, "{ __schema { types { name } } }")
    assert set(codes(body)) == {"GRAPHQL_VALIDATION_FAILED"}
    assert body.get("data") is None
    body = await post(emulator, "{ flows { nodes { friendlyNam } } }")
    assert codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "Did you mean" not in json.dumps(body)
    async with secured(emulator) as http:
        page = await http.get("/graphql", headers={"Accept": "text/html"})
    # No IDE: only a page that runs nothing and says GraphiQL is off.
    assert page.status_code == 404 and "<script" not in page.text
    assert "GraphiQL is off" in page.text


async def test_development_mode_keeps_introspection_and_suggestions(emulator: Emulator) -> None:
    body = await post(emulator, "{ __schema { queryType { name } } }", environment="development")
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"
    body = await post(emulator, "{ flows { nodes { friendlyNam } } }", environment="development")
    assert "Did you mean" in json.dumps(body)


async def test_a_mutation_never_runs_over_get(emulator: Emulator) -> None:
    flow = emulator.seeded_handles.active_execution
    document = f'mutation {{ endExecution(flowSid: "{flow.flow_sid}", sid: "{flow.execution_sid}") {{ sid }} }}'
    async with secured(emulator) as http:
        emulator.reset_counters()
        response = await http.get("/graphql", params={"query": document})
    assert response.status_code == 405
    assert emulator.total_requests == 0


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", "query=%7B+flows+%7B+nodes+%7B+sid+%7D+%7D+%7D"),
        ("text/plain", json.dumps({"query": FLOWS})),
        ("multipart/form-data; boundary=x", "--x--"),
    ],
)
async def test_a_post_that_is_not_json_is_refused(
    emulator: Emulator, content_type: str, body: str
) -> None:
    async with secured(emulator) as http:
        emulator.reset_counters()
        response = await http.post("/graphql", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 415
    assert emulator.total_requests == 0


async def test_an_expensive_query_is_refused_with_its_estimate(emulator: Emulator) -> None:
    document = "{ flows(first: 100) { nodes { executions(first: 100) { nodes { context } } } } }"
    body = await post(emulator, document)
    assert codes(body) == ["QUERY_TOO_EXPENSIVE"]
    extensions = body["errors"][0]["extensions"]
    assert extensions["budget"] == 500 and extensions["estimatedUpstreamCalls"] > 500
    assert emulator.total_requests == 0


async def test_cors_allows_only_listed_origins(emulator: Emulator) -> None:
    async with secured(emulator, cors_origins="https://app.example.com") as http:
        ok = await http.options(
            "/graphql",
            headers={
                "Origin": "https://app.example.com",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        evil = await http.post(
            "/graphql", json={"query": FLOWS}, headers={"Origin": "https://evil.example"}
        )
        good = await http.post(
            "/graphql", json={"query": FLOWS}, headers={"Origin": "https://app.example.com"}
        )
    assert ok.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "access-control-allow-origin" not in evil.headers
    assert good.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "Origin" in good.headers.get("vary", "")


def test_a_wildcard_origin_with_credentials_is_a_settings_error() -> None:
    from gateway.settings import SettingsError, load_settings

    with pytest.raises(SettingsError, match="CORS_ORIGINS"):
        load_settings(cors_origins="*", cors_allow_credentials=True)
