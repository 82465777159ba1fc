"""Plain fields resolved by a direct call: no per-field wrapper where a field needs none.

Strawberry wraps every field that has a resolver in a function that, on each
call, builds an `Info`, converts the arguments, and runs the field's extensions
(permission classes among them). For a field with no arguments and no
extension (`ExecutionStep.name`, `Execution.status`, `Flow.id`) all of that is
work for nothing, once per field of every item of every list. `direct_resolvers`
gives such fields a resolver of its own that calls the method straight away;
a field without a resolver reads its attribute. `Info` is still built for a
method that asks for one, and only for it.

What stays wrapped: fields with arguments (Strawberry converts them) and fields
with permission classes (they null their field with `FORBIDDEN` before it
runs, and `gateway.graphql.access` counts on that).
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any

import strawberry
from graphql import GraphQLField, GraphQLObjectType, GraphQLResolveInfo

from gateway.graphql.internals import core_schema, field_definition, info_for, resolver_parts

__all__ = ["direct_resolvers"]

Resolve = Callable[..., Any]


def direct_resolvers(schema: strawberry.Schema) -> int:
    """Give each plain field of `schema` a direct resolver; how many fields got one."""
    replaced = 0
    for named in core_schema(schema).type_map.values():
        if not isinstance(named, GraphQLObjectType) or named.name.startswith("__"):
            continue
        for field in named.fields.values():
            resolve = _direct(schema, field)
            if resolve is not None:
                field.resolve = resolve
                replaced += 1
    return replaced


def _direct(schema: strawberry.Schema, field: GraphQLField) -> Resolve | None:
    definition = field_definition(field)
    if definition is None or field.args or definition.extensions:
        return None
    if definition.permission_classes:
        return None
    parts = resolver_parts(definition)
    if definition.base_resolver is None:
        read = attrgetter(definition.python_name)

        def attribute(source: Any, info: GraphQLResolveInfo[Any]) -> Any:
            return read(source)

        return attribute
    if parts is None:
        return None  # a staticmethod or classmethod: leave it to Strawberry
    method = parts.function
    if parts.parameters == (parts.self_name,):

        def call(source: Any, info: GraphQLResolveInfo[Any]) -> Any:
            return method(source)

        return call
    if parts.parameters == (parts.self_name, parts.info_name):

        def call_with_info(source: Any, info: GraphQLResolveInfo[Any]) -> Any:
            return method(source, info_for(schema, info, definition))

        return call_with_info
    return None  # a root, a parent or anything else Strawberry injects: leave it to Strawberry
