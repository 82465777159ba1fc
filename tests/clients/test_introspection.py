"""graphql-js's own introspection query, as GraphiQL and codegen tools send it."""

from __future__ import annotations

from graphql import build_schema, lexicographic_sort_schema, print_schema

from gateway.emulator import Emulator
from gateway.graphql import export_sdl
from tests.support import run_node


def canonical(sdl: str) -> str:
    return print_schema(lexicographic_sort_schema(build_schema(sdl)))


def test_every_variant_of_the_standard_introspection_query_builds_the_schema(
    gateway_url: str, emulator: Emulator
) -> None:
    emulator.reset_counters()
    results = run_node("introspection.mjs", gateway_url)
    assert set(results) >= {"default", "all", "oneOf", "inputValueDeprecation"}
    for variant, result in results.items():
        assert "errors" not in result, (variant, result)
        assert result["queryType"] == "Query" and result["mutationType"] == "Mutation"
        assert {"Flow", "FlowRevision", "Execution", "ExecutionStep", "JSON"} <= set(
            result["types"]
        )
        assert result["cost"]["estimatedUpstreamCalls"] == 0
    # graphql-js prints, from the answer, the schema the gateway publishes.
    assert canonical(results["all"]["sdl"]) == canonical(export_sdl())
    assert emulator.total_requests == 0
