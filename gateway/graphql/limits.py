"""Limits that run before any upstream call: size, shape and upstream cost.

The numbers come from the request's context (`Context.limits`), so one schema
serves any configuration. Cost depends on variables, so it is computed for
every request, after validation and before execution, from the values
execution will use: coerced as graphql-core coerces them (`1000.0` sent for an
`Int` is 1000), the operation's defaults (`$n: Int = 1000`) filled in.

A batch (one HTTP request holding a JSON array of operations) is budgeted as a
whole: `price_batch` adds up its operations' estimates before any of them
runs, and when the sum is over `max_cost` every operation of the batch is
refused. Strawberry runs a batch's operations side by side, so a running sum
kept as each one starts would let the first ones run (a mutation half
applied) before a later one is refused.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from graphql import DocumentNode, GraphQLError, GraphQLSchema, parse, validate
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.execution.values import get_variable_values
from strawberry.extensions import SchemaExtension

from gateway.graphql.cost import (
    AnalysisTooLarge,
    Introspection,
    Shape,
    UnknownOperation,
    analyse,
    operation_of,
)
from gateway.graphql.documents import DocumentCache
from gateway.graphql.errors import Code, GatewayError, bad_input
from gateway.graphql.internals import core_schema


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

    @classmethod
    def configured(cls, settings: LimitSettings) -> Limits:
        """The limits the settings set."""
        return cls(
            max_depth=settings.max_depth,
            max_aliases=settings.max_aliases,
            max_root_fields=settings.max_root_fields,
            max_tokens=settings.max_tokens,
            max_directives=settings.max_directives,
            max_cost=settings.max_cost,
        )


class LimitSettings(Protocol):
    """The settings read here (`gateway.settings.Settings` has them all)."""

    @property
    def max_depth(self) -> int: ...
    @property
    def max_aliases(self) -> int: ...
    @property
    def max_root_fields(self) -> int: ...
    @property
    def max_tokens(self) -> int: ...
    @property
    def max_directives(self) -> int: ...
    @property
    def max_cost(self) -> int: ...


@dataclass(frozen=True)
class BatchOperation:
    """One operation of a batch, as the client sent it."""

    query: object
    operation_name: str | None
    variables: object


def estimate(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: dict[str, Any] | None,
    documents: DocumentCache | None = None,
) -> Shape | list[GraphQLError]:
    """The operation's shape and cost, priced with the variable values execution will use.

    When the variables do not coerce, graphql-core's errors instead: execution
    stops at those same errors, before any call. Raises UnknownOperation (which
    graphql-core reports too) and AnalysisTooLarge. With `documents`, the
    operation's view comes from the cache that parsed it.
    """
    operation = operation_of(document, operation_name)
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables or {})
    if isinstance(coerced, list):
        return coerced
    view = documents.view(schema, document, operation) if documents is not None else None
    return analyse(schema, document, operation, coerced, view)


def variables_error(variables: object) -> GatewayError | None:
    """BAD_USER_INPUT for variables that are not a JSON object (strawberry checks
    that for one operation, not for each of a batch)."""
    if variables is None or isinstance(variables, dict):
        return None
    return bad_input("variables must be a JSON object of names and values")


def price_batch(
    schema: GraphQLSchema, operations: Sequence[BatchOperation], limits: Limits
) -> GatewayError | None:
    """The refusal for every operation of a batch that, in all, could cost over `max_cost`.

    An operation that cannot run (it does not parse or validate, its variables
    do not coerce, it is too large to analyse) makes no call and counts
    nothing. Validation, the dearest of those checks, runs only for a batch
    the others leave over the limit.
    """
    priced: list[tuple[DocumentNode, int]] = []
    for operation in operations:
        query, variables = operation.query, operation.variables
        if not isinstance(query, str) or not (variables is None or isinstance(variables, dict)):
            continue  # refused on its own, before any call
        try:
            document = parse(query, max_tokens=limits.max_tokens)
            shape = estimate(schema, document, operation.operation_name, variables)
        except (GraphQLError, UnknownOperation, AnalysisTooLarge):
            continue
        if isinstance(shape, Shape):
            priced.append((document, int(shape.cost)))
    total = sum(cost for _, cost in priced)
    if total > limits.max_cost:
        total = sum(cost for document, cost in priced if not validate(schema, document))
    if total <= limits.max_cost:
        return None
    return GatewayError(
        f"this batch of {len(operations)} operations could make up to {total} upstream calls "
        f"in all; the limit for one request is {limits.max_cost}, so none of them ran. Send "
        "fewer operations, or ask for fewer items (`first`) or fewer fields.",
        Code.QUERY_TOO_EXPENSIVE,
        estimatedUpstreamCalls=total,
        budget=limits.max_cost,
        batchSize=len(operations),
    )


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
                errors = [error.as_graphql_error()] if error is not None else self.unpriced
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
        schema = core_schema(ec.schema)
        try:
            documents: DocumentCache | None = getattr(ec.schema, "documents", None)
            shape = estimate(
                schema, ec.graphql_document, ec.operation_name, ec.variables, documents
            )
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
        # Under its own limits, but part of a batch that is over them in all.
        refusal: GatewayError | None = getattr(ec.context, "batch_refusal", None)
        return refusal


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
