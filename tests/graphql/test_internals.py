"""What `gateway.graphql.internals` takes from Strawberry and graphql-core beyond their
public API still holds with the versions installed. An upgrade that moves any of
it fails here, naming what moved, before it fails anywhere else."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLSchema, parse, specified_rules
from strawberry.types.field import StrawberryField

from gateway.graphql import build_schema
from gateway.graphql.direct import direct_resolvers
from gateway.graphql.internals import (
    core_schema,
    field_definition,
    info_for,
    resolve_info,
    resolver_parts,
    validate_document,
)
from gateway.graphql.scopes import FlowsRead
from gateway.graphql.types import Execution

SCHEMA = build_schema()
SEEN: list[Any] = []


def test_strawberrys_schema_holds_graphql_cores() -> None:
    core = core_schema(SCHEMA)
    assert isinstance(core, GraphQLSchema), "strawberry.Schema._schema moved"
    assert core.query_type is not None and core.query_type.name == "Query"


def test_each_field_names_the_strawberry_field_it_was_made_from() -> None:
    flows = core_schema(SCHEMA).query_type.fields["flows"]
    definition = field_definition(flows)
    assert isinstance(definition, StrawberryField), "DEFINITION_BACKREF moved"
    assert definition.permission_classes == [FlowsRead], "permission_classes moved"
    assert "gateway.policy" in definition.metadata, "metadata moved"


def test_a_resolver_comes_apart_into_its_function_and_parameters() -> None:
    execution = core_schema(SCHEMA).get_type("Execution")
    sid = field_definition(execution.fields["sid"])
    assert sid is not None
    parts = resolver_parts(sid)
    assert parts is not None, "base_resolver or wrapped_func moved"
    assert parts.parameters == ("self",) and parts.self_name == "self"
    assert parts.function(Execution(flow_sid="F", execution_sid="E")) == "E"
    status = field_definition(execution.fields["status"])
    assert status is not None
    with_info = resolver_parts(status)
    assert with_info is not None and with_info.info_name == "info", "info_parameter moved"


@strawberry.type
class Probe:
    @strawberry.field
    def look(self, info: strawberry.Info) -> str:
        raw = resolve_info(info)
        SEEN.append(raw)
        made = info_for(info.schema, raw, info._field)
        SEEN.append(made)
        return made.field_name


async def test_strawberrys_info_wraps_graphql_cores_and_can_be_made_from_it() -> None:
    SEEN.clear()
    result = await strawberry.Schema(query=Probe).execute(
        "{ look ...F } fragment F on Probe { look }"
    )
    assert result.errors is None and result.data == {"look": "look"}
    raw, made = SEEN[0], SEEN[1]
    assert set(raw.fragments) == {"F"}, "Info._raw_info moved"
    assert [node.name.value for node in raw.field_nodes] == ["look", "look"]
    assert isinstance(made, strawberry.Info) and made.field_name == "look", "info_class moved"


def test_strawberrys_validation_answers_a_list_of_errors() -> None:
    errors = validate_document(core_schema(SCHEMA), parse("{ nope }"), ())
    assert [e.message for e in errors] == []  # no rules given, nothing to refuse
    refused = validate_document(core_schema(SCHEMA), parse("{ nope }"), tuple(specified_rules))
    assert refused and "nope" in refused[0].message


def test_plain_fields_get_their_direct_resolvers() -> None:
    assert direct_resolvers(build_schema()) > 30
