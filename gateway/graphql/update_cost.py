"""What one update of a subscription can cost upstream: its price per update.

`cost.analyse` prices a subscription as any operation: its root field's own
reads and its selection once. But the selection is resolved again for every
update (each step, each execution), for as long as the subscription runs:
twenty subscriptions selecting a list under each update turn one delivery of
ten events into two hundred calls. The price of one update is what the
selection alone costs: the analysis of the operation, less the analysis of the
same operation with its root field's selection left out (the root's own
reads). Read from `cost.analyse` as it is, so the two always agree.

`PriceUpdates` reports it beside the estimate (`extensions.updateCost`), with
the principal's budget a minute, and refuses before it starts a subscription
whose one update costs more than that whole budget: it could never be read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.execution.values import get_variable_values
from strawberry.extensions import SchemaExtension

from gateway.graphql.cost import AnalysisTooLarge, UnknownOperation, analyse, operation_of
from gateway.graphql.errors import Code, GatewayError

if TYPE_CHECKING:
    from gateway.graphql.context import Info

__all__ = ["PriceUpdates", "price_of", "price_per_update"]


def price_of(info: Info) -> int:
    """The price per update of the subscription `info` resolves."""
    # graphql-core's own info holds the fragments; strawberry's wraps it.
    fragments = info._raw_info.fragments.values()
    document = DocumentNode(definitions=(info.operation, *fragments))
    return price_per_update(document, info.operation, info.variable_values)


def price_per_update(
    document: DocumentNode, operation: OperationDefinitionNode, variables: dict[str, Any]
) -> int:
    """Upstream calls one update of the subscription `operation` can make (coerced
    `variables`); 0 for an operation that is not a subscription."""
    if operation.operation is not OperationType.SUBSCRIPTION:
        return 0
    whole = analyse(document, operation, variables).cost
    bare = analyse(document, _roots_alone(document, operation), variables).cost
    return max(0, int(whole - bare))


def _roots_alone(
    document: DocumentNode, operation: OperationDefinitionNode
) -> OperationDefinitionNode:
    """`operation` with its root fields (fragments expanded) selecting nothing."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    roots = [
        FieldNode(
            alias=field.alias,
            name=field.name,
            arguments=field.arguments,
            directives=field.directives,
            selection_set=None,
        )
        for field in _root_fields(operation.selection_set, fragments, ())
    ]
    return OperationDefinitionNode(
        operation=operation.operation,
        name=operation.name,
        variable_definitions=operation.variable_definitions,
        directives=operation.directives,
        selection_set=SelectionSetNode(selections=tuple(roots)),
    )


def _root_fields(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    stack: tuple[str, ...],
) -> Iterator[FieldNode]:
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _root_fields(selection.selection_set, fragments, stack)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in stack:  # validation reports the rest
                yield from _root_fields(fragment.selection_set, fragments, (*stack, name))


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
        schema: GraphQLSchema = self.execution_context.schema._schema
        coerced = get_variable_values(
            schema,
            operation.variable_definitions or (),
            variables if isinstance(variables, dict) else {},
        )
        if isinstance(coerced, list):
            return  # execution reports the variables' errors
        try:
            self.per_update = price_per_update(document, operation, coerced.coerced)
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
