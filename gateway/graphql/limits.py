"""Limits that run before any upstream call: size, shape and upstream cost.

The numbers come from the request's context (`Context.limits`), so one schema
serves any configuration. Cost depends on variables, so it is computed for
every request, after validation and before execution, from the values
execution will use: coerced as graphql-core coerces them (`1000.0` sent for an
`Int` is 1000), the operation's defaults (`$n: Int = 1000`) filled in.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql import DocumentNode, GraphQLError, GraphQLSchema
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.execution.values import get_variable_values
from strawberry.extensions import SchemaExtension

from gateway.graphql.cost import AnalysisTooLarge, Shape, UnknownOperation, analyse, operation_of
from gateway.graphql.errors import Code, GatewayError, bad_input


@dataclass(frozen=True)
class Limits:
    max_depth: int = 10
    max_aliases: int = 30
    max_root_fields: int = 20
    max_tokens: int = 2000
    max_directives: int = 20
    max_cost: int = 500


def estimate(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: dict[str, Any] | None,
) -> Shape | list[GraphQLError]:
    """The operation's shape and cost, priced with the variable values execution will use.

    When the variables do not coerce, graphql-core's errors instead: execution
    stops at those same errors, before any call. Raises UnknownOperation (which
    graphql-core reports too) and AnalysisTooLarge.
    """
    operation = operation_of(document, operation_name)
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables or {})
    if isinstance(coerced, list):
        return coerced
    return analyse(document, operation, coerced.coerced)


def variables_error(variables: object) -> GatewayError | None:
    """BAD_USER_INPUT for variables that are not a JSON object (strawberry checks
    that for one operation, not for each of a batch)."""
    if variables is None or isinstance(variables, dict):
        return None
    return bad_input("variables must be a JSON object of names and values")


class EnforceLimits(SchemaExtension):
    """Refuse an operation whose shape or estimated upstream cost is over its limits."""

    def __init__(self, *, execution_context: Any = None) -> None:
        self.estimate: int | None = None
        self.budget: int | None = None
        #: Why the operation has no estimate: its variables' errors, which execution reports.
        self.unpriced: list[GraphQLError] | None = None

    def on_operation(self) -> Iterator[None]:
        limits = self._limits()
        if limits is not None:
            # graphql-core stops lexing past this many tokens.
            self.execution_context.parse_options["max_tokens"] = limits.max_tokens
        yield

    def on_execute(self) -> Iterator[None]:
        limits = self._limits()
        if limits is not None and self.execution_context.graphql_document is not None:
            error = self._check(limits)
            if error is not None or self._cost_only():
                # X-Cost-Only with variables that do not coerce: their errors say why.
                errors = [_graphql_error(error)] if error is not None else self.unpriced
                self.execution_context.result = GraphQLExecutionResult(data=None, errors=errors)
        yield

    def get_results(self) -> dict[str, Any]:
        if self.estimate is None:
            return {}
        return {"cost": {"estimatedUpstreamCalls": self.estimate, "budget": self.budget}}

    def _limits(self) -> Limits | None:
        return getattr(self.execution_context.context, "limits", None)

    def _cost_only(self) -> bool:
        request = getattr(self.execution_context.context, "request", None)
        headers = getattr(request, "headers", None)
        return bool(headers is not None and headers.get("x-cost-only", "").lower() == "true")

    def _check(self, limits: Limits) -> GatewayError | None:
        ec = self.execution_context
        assert ec.graphql_document is not None
        refused = variables_error(ec.variables)
        if refused is not None:
            return refused
        schema: GraphQLSchema = ec.schema._schema  # graphql-core's, under strawberry's
        try:
            shape = estimate(schema, ec.graphql_document, ec.operation_name, ec.variables)
        except AnalysisTooLarge:
            return _too_complex("size", "the operation expands to too many fields", None, None)
        except UnknownOperation:
            return None  # graphql-core reports an unknown operation itself
        if not isinstance(shape, Shape):
            self.unpriced = shape
            return None  # nor variables that do not coerce: nothing runs, nothing to charge
        self.estimate, self.budget = int(shape.cost), limits.max_cost
        for name, actual, maximum in (
            ("depth", shape.depth, limits.max_depth),
            ("aliases", shape.aliases, limits.max_aliases),
            ("rootFields", shape.root_fields, limits.max_root_fields),
            ("directives", shape.directives, limits.max_directives),
        ):
            if actual > maximum:
                return _too_complex(
                    name, f"the operation's {name} ({actual}) exceed the limit", actual, maximum
                )
        if shape.cost > limits.max_cost:
            return GatewayError(
                f"this operation could make up to {int(shape.cost)} upstream calls; "
                f"the limit is {limits.max_cost}. Ask for fewer items (`first`) or fewer fields.",
                Code.QUERY_TOO_EXPENSIVE,
                estimatedUpstreamCalls=int(shape.cost),
                budget=limits.max_cost,
            )
        return None


def _too_complex(limit: str, message: str, actual: int | None, maximum: int | None) -> GatewayError:
    return GatewayError(message, Code.QUERY_TOO_COMPLEX, limit=limit, actual=actual, max=maximum)


def _graphql_error(error: GatewayError) -> GraphQLError:
    return GraphQLError(error.message, extensions=error.extensions)
