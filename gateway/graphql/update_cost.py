"""What one update of a subscription can cost upstream: its price per update.

`cost.analyse` prices a subscription as any operation: its root field's own
reads and its selection once. But the selection is resolved again for every
update (each step, each execution), for as long as the subscription runs:
twenty subscriptions selecting a list under each update turn one delivery of
ten events into two hundred calls. The price of one update is what the
selection alone costs: the analysis of the operation, read from `cost.analyse`
as it is so the two always agree, less what its root fields declare they cost
of their own (`policy.Price`, the `@cost` of `Subscription`'s fields).

`PriceUpdates` reports it beside the estimate (`extensions.updateCost`), with
the principal's budget a minute, and refuses before it starts a subscription
whose one update costs more than that whole budget: it could never be read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.execution.values import get_variable_values
from strawberry.extensions import SchemaExtension

from gateway.graphql.cost import (
    AnalysisTooLarge,
    CostTable,
    UnknownOperation,
    analyse,
    operation_of,
)
from gateway.graphql.documents import operation_view, view_of
from gateway.graphql.errors import Code, GatewayError
from gateway.graphql.internals import core_schema, resolve_info
from gateway.graphql.selection import OperationView, Variables, fields

__all__ = ["PriceUpdates", "price_of", "price_per_update"]


def price_of(info: strawberry.Info[Any, Any]) -> int:
    """The price per update of the subscription `info` resolves."""
    view = operation_view(info)
    if view is None:
        return 0
    fragments = resolve_info(info).fragments.values()
    document = DocumentNode(definitions=(info.operation, *fragments))
    return price_per_update(
        core_schema(info.schema), document, info.operation, info.variable_values, view
    )


def price_per_update(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Variables,
    view: OperationView | None = None,
) -> int:
    """Upstream calls one update of the subscription `operation` can make (coerced
    `variables`; `view`, its expanded view, when the caller has it); 0 for an
    operation that is not a subscription."""
    if operation.operation is not OperationType.SUBSCRIPTION:
        return 0
    if view is None:
        view = OperationView.build(schema, document, operation)
        if view is None:
            return 0
    whole = analyse(schema, document, operation, variables, view).cost
    table = CostTable.of(schema)
    root = view.root.parent.name
    own = sum(
        table.price(root, field.name).weight
        for field in fields(view.root, None, variables, schema=schema)
    )
    return max(0, int(whole - own))


class PriceUpdates(SchemaExtension):
    """Report a subscription's price per update; refuse one no budget could pay.

    Place it after `EnforceLimits` and before `RefuseSubscriptions`.
    """

    def __init__(self, *, execution_context: Any = None) -> None:
        self.per_update: int | None = None
        self.per_minute: int | None = None

    def on_execute(self) -> Iterator[None]:
        ec = self.execution_context
        if ec.result is None and ec.graphql_document is not None:
            self._price(ec.graphql_document, ec.operation_name, ec.variables)
            error = self._refusal()
            if error is not None:
                ec.result = GraphQLExecutionResult(data=None, errors=[error.as_graphql_error()])
        yield

    def get_results(self) -> dict[str, Any]:
        if self.per_update is None:
            return {}
        return {"updateCost": {"perUpdate": self.per_update, "callsPerMinute": self.per_minute}}

    def _price(self, document: DocumentNode, name: str | None, variables: Any) -> None:
        try:
            operation = operation_of(document, name)
        except UnknownOperation:
            return  # graphql-core says so
        if operation.operation is not OperationType.SUBSCRIPTION:
            return
        schema = core_schema(self.execution_context.schema)
        coerced = get_variable_values(
            schema,
            operation.variable_definitions or (),
            variables if isinstance(variables, dict) else {},
        )
        if isinstance(coerced, list):
            return  # execution reports the variables' errors
        view = view_of(self.execution_context.schema, document, operation)
        try:
            self.per_update = price_per_update(schema, document, operation, coerced, view)
        except (AnalysisTooLarge, GraphQLError):
            return  # EnforceLimits refused it already
        updates = getattr(self.execution_context.context, "updates", None)
        self.per_minute = updates.budget.per_minute if updates is not None else None

    def _refusal(self) -> GatewayError | None:
        if not self.per_update or not self.per_minute or self.per_update <= self.per_minute:
            return None
        return GatewayError(
            f"each update of this subscription could make up to {self.per_update} upstream "
            f"calls; these credentials' subscriptions may make {self.per_minute} a minute in "
            "all (STUDIO_GATEWAY_SUBSCRIPTION_CALLS_PER_MINUTE). Ask for fewer items "
            "(`first`) or fewer fields.",
            Code.QUERY_TOO_EXPENSIVE,
            perUpdate=self.per_update,
            callsPerMinute=self.per_minute,
        )
