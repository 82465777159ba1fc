"""Limits that run before any upstream call: size, shape and upstream cost.

The numbers come from the request's context (`Context.limits`), so one schema
serves any configuration. Cost depends on variables, so it is computed for
every request, after validation and before execution.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import SchemaExtension

from gateway.graphql.cost import AnalysisTooLarge, Introspection, UnknownOperation, analyse
from gateway.graphql.errors import Code, GatewayError


@dataclass(frozen=True)
class IntrospectionLimits:
    """What an operation's `__schema` and `__type` fields may select."""

    #: One `__schema` holds the whole schema; a second (an alias) only repeats it.
    schema_fields: int = 1
    type_fields: int = 10
    #: graphql-js's `TypeRef` fragment nests `ofType` 9 deep.
    of_type_depth: int = 9
    #: `types { fields { type } }`: a type, and the types its fields and arguments
    #: name. A third level (`type { fields { type } }`) multiplies the answer again.
    type_nesting: int = 2
    #: The standard query selects about 230 fields with its fragments expanded.
    fields: int = 500


@dataclass(frozen=True)
class Limits:
    max_depth: int = 10
    max_aliases: int = 30
    max_root_fields: int = 20
    max_tokens: int = 2000
    max_directives: int = 20
    max_cost: int = 500
    #: Introspection's own bound, not settings: the standard query (graphql-js
    #: `getIntrospectionQuery`, any options) fits, and nothing much bigger does.
    introspection: IntrospectionLimits = IntrospectionLimits()


class EnforceLimits(SchemaExtension):
    """Refuse an operation whose shape or estimated upstream cost is over its limits."""

    def __init__(self, *, execution_context: Any = None) -> None:
        self.estimate: int | None = None
        self.budget: int | None = None

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
                errors = [error.as_graphql_error()] if error is not None else None
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
        try:
            shape = analyse(ec.graphql_document, ec.operation_name, ec.variables)
        except AnalysisTooLarge:
            return _too_complex("size", "the operation expands to too many fields", None, None)
        except UnknownOperation:
            return None  # graphql-core reports an unknown operation itself
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
        error = _introspection_error(shape.introspection, limits.introspection)
        if error is not None:
            return error
        if shape.cost > limits.max_cost:
            return GatewayError(
                f"this operation could make up to {int(shape.cost)} upstream calls; "
                f"the limit is {limits.max_cost}. Ask for fewer items (`first`) or fewer fields.",
                Code.QUERY_TOO_EXPENSIVE,
                estimatedUpstreamCalls=int(shape.cost),
                budget=limits.max_cost,
            )
        return None


def _introspection_error(seen: Introspection, bound: IntrospectionLimits) -> GatewayError | None:
    for name, actual, maximum, what in (
        ("schemaFields", seen.schema_fields, bound.schema_fields, "`__schema` fields"),
        ("typeFields", seen.type_fields, bound.type_fields, "`__type` fields"),
        ("ofTypeDepth", seen.of_type_depth, bound.of_type_depth, "`ofType` nested in one another"),
        ("typeNesting", seen.type_nesting, bound.type_nesting, "types on a path, `ofType` aside"),
        ("introspectionFields", seen.fields, bound.fields, "introspection fields"),
    ):
        if actual > maximum:
            return _too_complex(
                name,
                f"introspection selects {actual} {what}; at most {maximum} are allowed. "
                "The standard introspection query (graphql-js getIntrospectionQuery) fits.",
                actual,
                maximum,
            )
    return None


def _too_complex(limit: str, message: str, actual: int | None, maximum: int | None) -> GatewayError:
    return GatewayError(message, Code.QUERY_TOO_COMPLEX, limit=limit, actual=actual, max=maximum)
