"""The scope table agrees with the schema, and the document check guards queries too.

The execution-time checks (permission classes, `node(id:)`) null a field in a
query and let the rest answer; the document check refuses what no such check
guards. These tests keep the two in step, and show that a query reaching an
object through an unguarded path is refused before it runs.
"""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLObjectType, parse
from graphql.utilities import get_operation_ast

from gateway.graphql import build_schema
from gateway.graphql.access import (
    CheckScopes,
    DocumentAccess,
    ScopeTable,
    access_of,
    analyse,
    checked_at_execution,
)
from gateway.graphql.documents import DocumentCache
from gateway.graphql.types import Execution
from gateway.security.principal import EXECUTIONS_READ, FLOWS_READ, PII_READ, Principal

SCHEMA = build_schema()._schema
TABLE = ScopeTable.of(SCHEMA)
FIELD_SCOPES = TABLE.fields
TYPE_SCOPES = TABLE.types
needs = TABLE.needs
#: An object's identity: free to read once the object is reached.
IDENTITY = frozenset({"__typename", "id", "sid", "flowSid", "executionSid"})


def object_fields() -> list[tuple[str, str, Any]]:
    return [
        (name, field_name, field)
        for name, type_ in SCHEMA.type_map.items()
        if isinstance(type_, GraphQLObjectType) and not name.startswith("__")
        for field_name, field in type_.fields.items()
    ]


def test_the_table_has_each_family_of_objects_and_its_scope() -> None:
    assert TYPE_SCOPES == {
        "Flow": FLOWS_READ,
        "FlowRevision": FLOWS_READ,
        "Execution": EXECUTIONS_READ,
        "ExecutionStep": EXECUTIONS_READ,
    }


def test_the_table_names_only_types_and_fields_the_schema_has() -> None:
    for type_name, field_name in FIELD_SCOPES:
        type_ = SCHEMA.get_type(type_name)
        assert isinstance(type_, GraphQLObjectType), type_name
        assert field_name in type_.fields, f"{type_name}.{field_name}"
    for type_name in TYPE_SCOPES:
        type_ = SCHEMA.get_type(type_name)
        assert isinstance(type_, GraphQLObjectType)
        assert {"id", "sid"} <= set(type_.fields)


def test_every_scope_checked_at_execution_is_one_the_table_asks_for() -> None:
    for type_name, field_name, field in object_fields():
        assert checked_at_execution(field) <= needs(type_name, field_name), (
            f"{type_name}.{field_name}"
        )


def test_what_a_field_needs_beyond_the_way_to_it_is_checked_at_execution() -> None:
    """So a query without that scope gets a null field, not a refusal."""
    for type_name, field_name, field in object_fields():
        reached_with = {TYPE_SCOPES[type_name]} if type_name in TYPE_SCOPES else set()
        extra = needs(type_name, field_name) - reached_with
        assert extra <= checked_at_execution(field), f"{type_name}.{field_name}"


def test_identity_is_free_and_data_is_not() -> None:
    for type_name, scope in TYPE_SCOPES.items():
        type_ = SCHEMA.get_type(type_name)
        assert isinstance(type_, GraphQLObjectType)
        for field_name in IDENTITY & set(type_.fields):
            assert needs(type_name, field_name) == frozenset()
        assert needs(type_name, "dateCreated") == {scope}
    assert needs("Flow", "testUsers") == {FLOWS_READ, PII_READ}


# -- queries through a path that nothing guards -----------------------------------

RESOLVED: list[str] = []


@strawberry.type
class LeakyQuery:
    @strawberry.field
    def leak(self) -> Execution | None:
        RESOLVED.append("leak")
        return Execution(flow_sid="FW" + "0" * 32, execution_sid="FN" + "0" * 32)


LEAKY = strawberry.Schema(query=LeakyQuery, extensions=[lambda: CheckScopes()])


class Caller:
    def __init__(self, *scopes: str) -> None:
        self.principal = Principal("test", frozenset(scopes))


async def leaky(document: str, *scopes: str) -> Any:
    RESOLVED.clear()
    return await LEAKY.execute(document, context_value=Caller(*scopes))


async def test_a_query_reaching_an_object_through_an_unguarded_field_is_refused() -> None:
    for document in (
        "{ leak { status } }",
        "{ l: leak { s: status } }",
        "{ leak { ...E } } fragment E on Execution { contactSid }",
        "{ leak { ... on Node { ... on Execution { dateCreated } } } }",
        "{ leak { steps { nodes { sid } } } }",
    ):
        result = await leaky(document, FLOWS_READ)
        assert result.data is None, document
        assert [e.extensions["code"] for e in result.errors] == ["FORBIDDEN"]
        assert result.errors[0].extensions["requiredScope"] == EXECUTIONS_READ
        assert RESOLVED == [], document
    result = await leaky("{ l: leak { __typename id sid flowSid } }", FLOWS_READ)
    assert result.errors is None and result.data["l"]["sid"] and RESOLVED == ["leak"]
    # A field checked at execution is still nulled there, the rest answering.
    result = await leaky("{ leak { sid context } }", FLOWS_READ, EXECUTIONS_READ)
    assert result.data == {"leak": {"sid": "FN" + "0" * 32, "context": None}}
    assert result.errors[0].extensions["requiredScope"] == PII_READ


def test_the_real_schemas_queries_are_left_to_the_checks_at_execution() -> None:
    """Every path to an object is guarded at execution, so no query is refused whole."""
    document = parse(
        """query($id: ID!) {
          flows { nodes { testUsers executions { nodes { context steps { nodes { context
            toWidget { name } execution { contactChannelAddress } } } } } } }
          node(id: $id) { id ... on Execution { status flow { testUsers } } ...S }
          executionStep(flowSid: "F", executionSid: "E", sid: "S") { flow { friendlyName } } }
        fragment S on ExecutionStep { context }"""
    )
    access = analyse(SCHEMA, document, None)
    assert access is not None
    for held in ([], [FLOWS_READ], [EXECUTIONS_READ], [PII_READ], [FLOWS_READ, EXECUTIONS_READ]):
        assert access.refusals(frozenset(held)) == [], held


def test_a_fragment_bomb_is_walked_once_per_fragment() -> None:
    levels = 40  # 2**40 fields once expanded
    fragments = [f"fragment F{i} on Flow {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)]
    fragments.append(f"fragment F{levels} on Flow {{ sid friendlyName }}")
    document = parse(
        'mutation { updateFlow(sid: "FW", status: DRAFT) { ...F0 } } ' + " ".join(fragments)
    )
    access = analyse(SCHEMA, document, None)
    assert access is not None
    (error,) = access.refusals(frozenset({"flows:write"}))
    assert error.extensions is not None
    assert error.extensions["fieldPath"] == "updateFlow.friendlyName"


def test_a_document_is_analysed_once_and_the_cache_stays_bounded() -> None:
    cache = DocumentCache(size=2)

    def access(text: str) -> DocumentAccess | None:
        entry = cache.entry(text, {})
        assert entry is not None
        operation = get_operation_ast(entry.document)
        assert operation is not None
        view = cache.view(SCHEMA, entry.document, operation)
        assert view is not None
        return access_of(SCHEMA, entry.document, view)

    text = "{ flows { nodes { sid } } }"
    first = access(text)
    assert access(text) is first
    for other in ("{ flow(sid: 1) { sid } }", "{ flow(sid: 2) { sid } }"):
        access(other)
    assert access(text) is not first
