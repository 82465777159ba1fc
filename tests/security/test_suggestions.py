"""No "Did you mean …?" in production: with introspection off, it would name the schema."""

from __future__ import annotations

from typing import Any

import graphql
import pytest

from gateway.emulator import Emulator
from gateway.graphql import build_schema
from gateway.graphql.schema import without_suggestions
from tests.support import secured

FLOW = "FW" + "0" * 32

#: A typo each, the variables it needs, and the schema members a suggestion would name.
TYPOS: dict[str, tuple[str, dict[str, Any] | None, set[str]]] = {
    "unknown argument": ("{ flows(firs: 1) { nodes { sid } } }", None, {"first"}),
    "unknown field": ("{ flows { nodes { friendlyNam } } }", None, {"friendlyName"}),
    "unknown root field": ('{ flw(sid: "x") { sid } }', None, {"flow", "flows"}),
    "unknown directive argument": (
        "{ flows @include(iff: true) { nodes { sid } } }",
        None,
        {"if"},
    ),
    "enum typo in a literal": (
        f'{{ flow(sid: "{FLOW}") {{ executions(status: ENDD) {{ nodes {{ sid }} }} }} }}',
        None,
        {"ENDED"},
    ),
    "enum as a string literal": (
        f'{{ flow(sid: "{FLOW}") {{ executions(status: "ENDD") {{ nodes {{ sid }} }} }} }}',
        None,
        {"ENDED"},
    ),
    "enum typo in a variable": (
        f'query($s: ExecutionStatus) {{ flow(sid: "{FLOW}") {{ executions(status: $s) {{ nodes {{ sid }} }} }} }}',
        {"s": "ENDD"},
        {"ENDED"},
    ),
    "enum typo in a mutation": (
        'mutation { createFlow(friendlyName: "x", status: DRAF, definition: {}) { sid } }',
        None,
        {"DRAFT"},
    ),
    "unknown type in a variable definition": (
        f'query($s: ExecutionStatu) {{ flow(sid: "{FLOW}") {{ executions(status: $s) {{ nodes {{ sid }} }} }} }}',
        {"s": "ENDED"},
        {"ExecutionStatus", "ExecutionStep", "ExecutionEdge"},
    ),
    "unknown type in a fragment": (
        '{ node(id: "x") { ... on Executio { sid } } }',
        None,
        {"Execution"},
    ),
    "field of an interface's implementations": (
        '{ node(id: "x") { friendlyName } }',
        None,
        {"Flow", "FlowRevision"},
    ),
}


async def messages(emulator: Emulator, environment: str, typo: str) -> list[str]:
    document, variables, _ = TYPOS[typo]
    async with secured(emulator, environment=environment) as http:
        response = await http.post("/graphql", json={"query": document, "variables": variables})
    assert response.status_code == 200, response.text
    errors = response.json()["errors"]
    assert errors and all(e["extensions"]["code"] for e in errors), errors
    return [e["message"] for e in errors]


@pytest.mark.parametrize("typo", TYPOS)
async def test_production_names_no_schema_member_the_client_did_not_send(
    emulator: Emulator, typo: str
) -> None:
    found = await messages(emulator, "production", typo)
    assert not any("Did you mean" in m for m in found), found
    named = {name for name in TYPOS[typo][2] for m in found if f"'{name}'" in m}
    assert not named, found


def hidden_by_graphql_core(document: str, variables: dict[str, Any] | None) -> list[str]:
    """What graphql-core itself says with `hide_suggestions`: validation, else coercion.

    (The schema has @defer and @stream, which only the incremental executor accepts.)
    """
    schema = build_schema()._schema
    ast = graphql.parse(document)
    errors = graphql.validate(schema, ast, hide_suggestions=True)
    if not errors:
        result = graphql.experimental_execute_incrementally(
            schema, ast, variable_values=variables, hide_suggestions=True
        )
        assert isinstance(result, graphql.ExecutionResult)
        errors = list(result.errors or ())
    assert errors
    return [e.message for e in errors]


@pytest.mark.parametrize("typo", TYPOS)
async def test_production_says_what_graphql_core_says_without_suggestions(
    emulator: Emulator, typo: str
) -> None:
    document, variables, _ = TYPOS[typo]
    assert await messages(emulator, "production", typo) == hidden_by_graphql_core(
        document, variables
    )


@pytest.mark.parametrize("typo", TYPOS)
async def test_development_still_suggests(emulator: Emulator, typo: str) -> None:
    found = await messages(emulator, "development", typo)
    assert any("Did you mean" in m for m in found), found


async def test_suggestions_follow_their_own_setting(emulator: Emulator) -> None:
    async with secured(emulator, environment="development", suggestions=False) as http:
        body = (await http.post("/graphql", json={"query": TYPOS["unknown argument"][0]})).json()
    assert body["errors"][0]["message"] == "Unknown argument 'firs' on field 'Query.flows'."


# Our schema has no input object types; graphql-core suggests their fields mid-message.
INPUT_SCHEMA = graphql.build_schema(
    "input Window { first: Int, after: String } type Query { page(window: Window): Int }"
)


@pytest.mark.parametrize(
    ("document", "variables"),
    [
        ("{ page(window: { frist: 1 }) }", None),
        ("query($w: Window) { page(window: $w) }", {"w": {"frist": 1}}),
        ("query($w: Window) { page(window: $w) }", {"w": {"aftr": "x", "frist": 2}}),
    ],
    ids=["literal", "variable", "two typos"],
)
def test_input_field_suggestions_come_out_exactly_as_graphql_core_hides_them(
    document: str, variables: dict[str, Any] | None
) -> None:
    shown = graphql.graphql_sync(INPUT_SCHEMA, document, variable_values=variables)
    hidden = graphql.graphql_sync(
        INPUT_SCHEMA, document, variable_values=variables, hide_suggestions=True
    )
    assert shown.errors and hidden.errors
    assert any("Did you mean" in e.message for e in shown.errors)
    assert [without_suggestions(e.message) for e in shown.errors] == [
        e.message for e in hidden.errors
    ]


def test_text_a_client_sent_is_left_alone() -> None:
    # A value the client sent is quoted by graphql-core, so it never ends a message bare.
    message = "Variable '$s' got invalid value \"Did you mean 'x'?\"; Expected type 'Int'."
    assert without_suggestions(message) == message
