"""Policy declared on the schema: a field's scopes and price live on its definition.

A field added with a scope and a price needs nothing else: the SDL shows both
as the routers spell them (`@requiresScopes`, `@cost`), the scope checks and
the cost estimate read them from the schema. A field that declares nothing is
never free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import strawberry
from graphql import GraphQLObjectType

from gateway.graphql import build_schema
from gateway.graphql.access import ScopeTable
from gateway.graphql.cost import CostTable
from gateway.graphql.fields import field, identity
from gateway.graphql.limits import Limits
from gateway.graphql.policy import ONE_CALL, SUMMARY, Price, declared, needs
from gateway.graphql.query import Query
from gateway.graphql.scopes import FLOW_DATA
from gateway.security.principal import EXECUTIONS_READ, FLOWS_READ, Principal

FLOW = "FW" + "0" * 32
LIMITS = Limits()
RESOLVED: list[str] = []


@strawberry.type(description="How a flow's executions went.")
class FlowStatistics:
    flow_sid: strawberry.Private[str]

    @identity(name="flowSid", description="The flow's SID.")
    def flow_sid_field(self) -> str:
        return self.flow_sid

    @field(
        description="How many of its executions ended.",
        scopes=FLOW_DATA.also(EXECUTIONS_READ),
        price=Price(weight=2),
    )
    def ended(self) -> int | None:
        RESOLVED.append("ended")
        return 7


@strawberry.type
class QueryWithStatistics(Query):
    @field(description="A flow's statistics.", scopes=needs(FLOWS_READ), price=ONE_CALL)
    def flow_statistics(self, sid: strawberry.ID) -> FlowStatistics | None:
        RESOLVED.append("flowStatistics")
        return FlowStatistics(flow_sid=str(sid))


SCHEMA = build_schema(query=QueryWithStatistics)
DOCUMENT = f'{{ flowStatistics(sid: "{FLOW}") {{ flowSid ended }} }}'


@dataclass
class Caller:
    """What the checks read of a request's context."""

    principal: Principal
    limits: Limits = LIMITS


async def run(document: str, *scopes: str) -> Any:
    RESOLVED.clear()
    caller = Caller(Principal("test", frozenset(scopes)))
    return await SCHEMA.execute(document, context_value=caller)


def test_the_sdl_shows_the_new_fields_scopes_and_price_as_the_routers_read_them() -> None:
    sdl = SCHEMA.as_str()
    assert (
        'flowStatistics(sid: ID!): FlowStatistics @requiresScopes(scopes: [["flows:read"]]) '
        "@cost(weight: 1)"
    ) in sdl
    assert (
        'ended: Int @requiresScopes(scopes: [["executions:read", "flows:read"]]) @cost(weight: 2)'
    ) in sdl
    assert "flowSid: String!\n" in sdl  # identity: free, no call


async def test_the_estimate_charges_the_new_fields_price() -> None:
    result = await run(DOCUMENT, FLOWS_READ, EXECUTIONS_READ)
    assert result.errors is None
    assert result.data == {"flowStatistics": {"flowSid": FLOW, "ended": 7}}
    assert result.extensions["cost"]["estimatedUpstreamCalls"] == 1 + 2
    aliased = await run(
        f'{{ a: flowStatistics(sid: "{FLOW}") {{ ended }} '
        f'b: flowStatistics(sid: "{FLOW}") {{ flowSid }} }}',
        FLOWS_READ,
        EXECUTIONS_READ,
    )
    assert aliased.extensions["cost"]["estimatedUpstreamCalls"] == (1 + 2) + 1


async def test_the_new_fields_scopes_are_checked_before_it_resolves() -> None:
    result = await run(DOCUMENT, FLOWS_READ)
    assert result.data == {"flowStatistics": {"flowSid": FLOW, "ended": None}}
    assert [e.extensions["requiredScope"] for e in result.errors] == [EXECUTIONS_READ]
    assert RESOLVED == ["flowStatistics"]
    refused = await run(DOCUMENT, EXECUTIONS_READ)
    assert refused.data == {"flowStatistics": None}
    assert [e.extensions["requiredScope"] for e in refused.errors] == [FLOWS_READ]
    assert RESOLVED == []


def test_the_tables_are_built_from_the_declarations() -> None:
    schema = SCHEMA._schema
    assert ScopeTable.of(schema).needs("FlowStatistics", "ended") == {FLOWS_READ, EXECUTIONS_READ}
    assert ScopeTable.of(schema).needs("FlowStatistics", "flowSid") == frozenset()
    assert CostTable.of(schema).price("FlowStatistics", "ended").weight == 2
    assert ScopeTable.of(schema) is ScopeTable.of(schema), "built once per schema"


# -- the real schema ----------------------------------------------------------------

REAL = build_schema()._schema
ROOTS = ("Query", "Mutation", "Subscription")


def declared_types() -> list[str]:
    """The types whose every field declares its policy: the roots and the node types."""
    return [*ROOTS, *ScopeTable.of(REAL).types]


@pytest.mark.parametrize("type_name", declared_types())
def test_every_field_of_a_root_or_node_type_declares_its_scopes_and_price(type_name: str) -> None:
    type_ = REAL.get_type(type_name)
    assert isinstance(type_, GraphQLObjectType)
    for name, definition in type_.fields.items():
        policy = declared(definition)
        assert policy.scopes is not None, f"{type_name}.{name} declares no scopes"
        assert policy.price is not None, f"{type_name}.{name} declares no price"
        if type_name in ROOTS:
            assert policy.price.weight >= 1, f"{type_name}.{name} costs at least its own call"


@strawberry.type(name="Flow")
class BareFlow:
    @strawberry.field
    def archived(self) -> bool:
        return False


@strawberry.type(name="Query")
class BareQuery:
    @strawberry.field
    def flow(self) -> BareFlow:
        return BareFlow()


def test_a_field_that_declares_nothing_is_neither_free_nor_without_cost() -> None:
    """What another branch adds without a declaration needs its type's scope and is
    charged as reading its object's record (the fail-closed defaults)."""
    assert ScopeTable.of(REAL).needs("Execution", "archived") == {EXECUTIONS_READ}
    assert ScopeTable.of(REAL).needs("Flow", "archived") == {FLOWS_READ}
    bare = CostTable.of(strawberry.Schema(query=BareQuery)._schema)
    assert bare.price("Query", "flow") == ONE_CALL
    assert bare.price("Flow", "archived") == SUMMARY
