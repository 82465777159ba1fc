"""A subscription's price per update is its estimate less what its root field declares
it costs of its own: the selection is resolved again for every update, the root's
own reads happen once."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import pytest
import strawberry
from graphql import GraphQLSchema, parse

from gateway.graphql import build_schema
from gateway.graphql.cost import analyse, operation_of
from gateway.graphql.fields import field, identity, subscription
from gateway.graphql.internals import core_schema
from gateway.graphql.policy import Price, needs
from gateway.graphql.update_cost import price_per_update
from gateway.security.principal import EXECUTIONS_READ

FLOW = "FW" + "0" * 32


@strawberry.type(description="A count of a flow's executions.")
class Tally:
    @identity(name="flowSid", description="The flow's SID.")
    def flow_sid(self) -> str:
        return FLOW

    @field(description="Executions ended.", scopes=needs(EXECUTIONS_READ), price=Price(weight=2))
    def ended(self) -> int:
        return 7


@strawberry.type
class TallyQuery:
    @identity(description="Always true.")
    def ok(self) -> bool:
        return True


@strawberry.type
class TallySubscription:
    @subscription(
        description="The flow's tally as it changes.",
        scopes=needs(EXECUTIONS_READ),
        price=Price(weight=3),
    )
    async def tallies(self) -> AsyncGenerator[Tally, None]:
        yield Tally()


TALLIES = core_schema(strawberry.Schema(query=TallyQuery, subscription=TallySubscription))
REAL = core_schema(build_schema())


def priced(schema: GraphQLSchema, text: str, variables: dict[str, Any]) -> tuple[int, int]:
    """The estimate and the price per update of the document's one operation."""
    document = parse(text)
    operation = operation_of(document, None)
    whole = analyse(schema, document, operation, variables).cost
    return int(whole), price_per_update(schema, document, operation, variables)


@pytest.mark.parametrize(
    ("text", "estimate", "per_update"),
    [
        ("subscription { tallies { flowSid } }", 3, 0),
        ("subscription { tallies { flowSid ended } }", 5, 2),
        ("subscription { tallies { ...T } } fragment T on Tally { ended }", 5, 2),
        ("subscription { tallies { ended @skip(if: true) } }", 3, 0),
    ],
)
def test_an_update_costs_its_selection_not_the_roots_declared_price(
    text: str, estimate: int, per_update: int
) -> None:
    assert priced(TALLIES, text, {}) == (estimate, per_update)


def test_a_variable_that_skips_the_dear_part_makes_the_update_free() -> None:
    text = "subscription($quiet: Boolean!) { tallies { ended @skip(if: $quiet) } }"
    assert priced(TALLIES, text, {"quiet": True}) == (3, 0)
    assert priced(TALLIES, text, {"quiet": False}) == (5, 2)


def test_the_gateways_subscriptions_are_priced_by_what_each_update_selects() -> None:
    bare = f'subscription {{ flowExecutions(flowSid: "{FLOW}") {{ sid status }} }}'
    assert priced(REAL, bare, {}) == (1, 0)
    # A steps page, and a context for each of its (at most 5) steps.
    nested = (
        f'subscription {{ flowExecutions(flowSid: "{FLOW}") '
        "{ sid steps(first: 5) { nodes { sid context } } } }"
    )
    assert priced(REAL, nested, {}) == (7, 6)


def test_a_query_has_no_price_per_update() -> None:
    assert priced(TALLIES, "{ ok }", {}) == (0, 0)
