"""Each distinct document is parsed and validated once; what depends on the request is not cached."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.graphql.limits import Limits
from gateway.graphql.schema import build_schema


@dataclass
class Bare:
    """A context with limits and nothing else: these documents read no upstream data."""

    limits: Limits | None = None


async def test_a_repeated_document_is_parsed_and_validated_once() -> None:
    schema = build_schema()
    for _ in range(3):
        result = await schema.execute("{ __typename }", context_value=Bare())
        assert result.errors is None and result.data == {"__typename": "Query"}
    assert (schema.documents.parses, schema.documents.validations) == (1, 1)

    await schema.execute("query Other { __typename }", context_value=Bare())
    assert (schema.documents.parses, schema.documents.validations) == (2, 2)


async def test_an_invalid_document_gets_the_same_clean_error_on_every_request() -> None:
    schema = build_schema(suggestions=False)
    document = "{ flows(first: 1) { nodes { friendlyNam } } }"
    messages = []
    for _ in range(3):
        result = await schema.execute(document, context_value=Bare())
        assert result.errors is not None
        messages.append([(e.message, (e.extensions or {}).get("code")) for e in result.errors])
    assert messages[0] == messages[1] == messages[2]
    assert messages[0] == [
        ("Cannot query field 'friendlyNam' on type 'Flow'.", "GRAPHQL_VALIDATION_FAILED")
    ]
    assert schema.documents.validations == 1


async def test_the_token_limit_in_force_decides_whether_a_cached_document_parses() -> None:
    schema = build_schema()
    document = "{ a: __typename b: __typename c: __typename }"
    assert (await schema.execute(document, context_value=Bare(Limits()))).errors is None
    refused = await schema.execute(document, context_value=Bare(Limits(max_tokens=4)))
    assert refused.errors is not None
    assert "tokens. Parsing aborted" in refused.errors[0].message
    assert (await schema.execute(document, context_value=Bare(Limits()))).errors is None


async def test_introspection_stays_refused_when_its_document_is_cached() -> None:
    schema = build_schema(introspection=False)
    for _ in range(2):
        result = await schema.execute("{ __schema { queryType { name } } }", context_value=Bare())
        assert result.data is None and result.errors is not None
        assert "introspection" in result.errors[0].message.lower()
