"""Introspection has a bound of its own: the standard query fits, abuse does not.

The standard query (graphql-js `getIntrospectionQuery`, sent by GraphiQL and
codegen tools) is run by a real Node client in `tests/clients/`; here are the
abusive shapes it must not let through, and the data limits that still hold
beside it. All are refused before anything runs, with no upstream call.
"""

from __future__ import annotations

from typing import Any

import pytest

from gateway.emulator import Emulator
from tests.support import codes, secured


def type_ref(depth: int = 9) -> str:
    """graphql-js's TypeRef fragment, with `ofType` nested `depth` deep (its own: 9)."""
    return (
        " fragment TypeRef on __Type { kind name "
        + "ofType { kind name " * depth
        + "}" * (depth + 1)
    )


async def post(emulator: Emulator, document: str, *, calls: int = 0) -> dict[str, Any]:
    """POST one operation to a gateway with the production limits and introspection on."""
    async with secured(emulator, introspection=True) as http:
        emulator.reset_counters()
        response = await http.post("/graphql", json={"query": document})
    assert response.status_code == 200
    assert emulator.total_requests == calls
    body: dict[str, Any] = response.json()
    return body


def refused(body: dict[str, Any], limit: str) -> dict[str, Any]:
    assert codes(body) == ["QUERY_TOO_COMPLEX"], body
    assert body.get("data") is None
    extensions: dict[str, Any] = body["errors"][0]["extensions"]
    assert extensions["limit"] == limit
    assert extensions["actual"] > extensions["max"]
    return extensions


async def test_a_deep_type_reference_passes_and_costs_no_upstream_call(emulator: Emulator) -> None:
    body = await post(
        emulator,
        "{ __schema { types { name fields { name args { name type { ...TypeRef } } type { ...TypeRef } } } } }"
        + type_ref(),
    )
    assert "errors" not in body, body["errors"]
    assert body["extensions"]["cost"]["estimatedUpstreamCalls"] == 0
    flow = next(t for t in body["data"]["__schema"]["types"] if t["name"] == "Flow")
    assert {f["name"] for f in flow["fields"]} >= {"sid", "executions", "revisions"}


async def test_an_of_type_chain_deeper_than_the_standard_query_is_refused(
    emulator: Emulator,
) -> None:
    body = await post(
        emulator, '{ __type(name: "Flow") { fields { type { ...TypeRef } } } }' + type_ref(10)
    )
    assert refused(body, "ofTypeDepth") == {
        "code": "QUERY_TOO_COMPLEX",
        "limit": "ofTypeDepth",
        "actual": 10,
        "max": 9,
    }
    assert "getIntrospectionQuery" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    "document",
    [
        # A field's type's fields' types: each level multiplies the answer by the fields.
        "{ __schema { types { fields { type { fields { type { name } } } } } } }",
        '{ __type(name: "Query") { fields { type { fields { type { name } } } } } }',
        # Through `ofType` (which unwraps a list or non-null) to the named type's fields.
        "{ __schema { types { fields { type { ofType { fields { type { name } } } } } } } }",
        "{ __schema { types { interfaces { possibleTypes { name } } } } }",
        "{ __schema { directives { args { type { fields { type { fields { type { name } } } } } } } } }",
    ],
)
async def test_type_recursion_is_refused(emulator: Emulator, document: str) -> None:
    assert refused(await post(emulator, document), "typeNesting")["max"] == 2


async def test_aliases_cannot_multiply_the_schema(emulator: Emulator) -> None:
    whole = "types { name fields { name type { ...TypeRef } } }"
    body = await post(
        emulator, "{ a: __schema { " + whole + " } b: __schema { " + whole + " } }" + type_ref()
    )
    assert refused(body, "schemaFields") == {
        "code": "QUERY_TOO_COMPLEX",
        "limit": "schemaFields",
        "actual": 2,
        "max": 1,
    }
    # Nor aliases inside one `__schema`, nor a fragment spread many times.
    body = await post(
        emulator,
        "{ __schema { " + " ".join(f"t{i}: types {{ ...T }}" for i in range(12)) + " } } "
        "fragment T on __Type { name fields { name args { name type { ...TypeRef } } type { ...TypeRef } } }"
        + type_ref(),
    )
    assert refused(body, "introspectionFields")["max"] == 500


async def test_many_type_lookups_are_refused(emulator: Emulator) -> None:
    document = "{ " + " ".join(f't{i}: __type(name: "Flow") {{ name }}' for i in range(11)) + " }"
    assert refused(await post(emulator, document), "typeFields")["max"] == 10
    ten = "{ " + " ".join(f't{i}: __type(name: "Flow") {{ name }}' for i in range(10)) + " }"
    assert (await post(emulator, ten))["data"]["t9"] == {"name": "Flow"}


async def test_a_mixed_document_keeps_the_data_limits_for_its_data(emulator: Emulator) -> None:
    deep = "flows { nodes { executions { nodes { steps { nodes { execution { steps { nodes { execution { sid } } } } } } } } } }"
    body = await post(emulator, "{ __schema { queryType { name } } " + deep + " }")
    assert refused(body, "depth")["actual"] == 11
    # Introspection's depth is not the data's: the two side by side pass.
    body = await post(
        emulator,
        "{ __schema { types { fields { type { ...TypeRef } } } } flows(first: 1) { nodes { sid } } }"
        + type_ref(),
        calls=1,
    )
    assert "errors" not in body, body["errors"]
    assert body["extensions"]["cost"]["estimatedUpstreamCalls"] == 1


async def test_introspection_stays_off_in_production(emulator: Emulator) -> None:
    async with secured(emulator) as http:
        response = await http.post(
            "/graphql", json={"query": "{ __schema { types { ...TypeRef } } }" + type_ref()}
        )
    assert set(codes(response.json())) == {"GRAPHQL_VALIDATION_FAILED"}
