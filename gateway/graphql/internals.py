"""Where the gateway reaches past Strawberry's and graphql-core's public API, all of it.

Each reach is here, named for what it gets, so an upgrade that moves one of
them breaks one module, and `tests/graphql/test_internals.py`, which checks
every assumption below against the installed versions, says which:

- strawberry's schema keeps graphql-core's in `_schema`;
- each graphql-core field keeps the strawberry field it was made from in its
  extensions, under `GraphQLCoreConverter.DEFINITION_BACKREF`;
- a strawberry resolver exposes the function it wraps (`wrapped_func`) and its
  `self` and `info` parameters; strawberry's `Info` is made from graphql-core's
  resolve info and the field (`info_class(_raw_info=, _field=)`), and keeps
  the former in `_raw_info`;
- `strawberry.schema.schema.validate_document` validates as strawberry does.

The plain fields' direct resolvers (`direct.py`) stand on the resolver parts;
the policy tables (`policy.declared`) on the back reference.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import strawberry
from graphql import GraphQLField, GraphQLResolveInfo, GraphQLSchema
from strawberry.schema.schema import validate_document
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

__all__ = [
    "ResolverParts",
    "core_schema",
    "field_definition",
    "info_for",
    "resolve_info",
    "resolver_parts",
    "validate_document",
]


def core_schema(schema: strawberry.Schema) -> GraphQLSchema:
    """graphql-core's schema under strawberry's."""
    core: GraphQLSchema = schema._schema
    return core


def field_definition(field: GraphQLField) -> StrawberryField | None:
    """The strawberry field a graphql-core field was made from (None for one it did not make)."""
    found = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    return found if isinstance(found, StrawberryField) else None


def resolve_info(info: strawberry.Info[Any, Any]) -> GraphQLResolveInfo[Any]:
    """graphql-core's resolve info under strawberry's `Info`."""
    raw: GraphQLResolveInfo[Any] = info._raw_info
    return raw


def info_for(
    schema: strawberry.Schema, raw: GraphQLResolveInfo[Any], field: StrawberryField
) -> strawberry.Info[Any, Any]:
    """Strawberry's `Info` for a field, as its own resolver wrapper makes it."""
    info: strawberry.Info[Any, Any] = schema.config.info_class(_raw_info=raw, _field=field)
    return info


@dataclass(frozen=True, slots=True)
class ResolverParts:
    """A resolver's function and how it is called."""

    function: Callable[..., Any]
    #: Its parameters' names, in order.
    parameters: tuple[str, ...]
    #: The names of the parameters strawberry fills with the parent object and `Info`.
    self_name: str | None
    info_name: str | None


def resolver_parts(field: StrawberryField) -> ResolverParts | None:
    """The field's resolver, taken apart; None for a field without one."""
    resolver = field.base_resolver
    if resolver is None:
        return None
    function = resolver.wrapped_func
    if not callable(function):
        return None  # a staticmethod or classmethod object
    return ResolverParts(
        function,
        tuple(inspect.signature(function).parameters),
        resolver.self_parameter.name if resolver.self_parameter else None,
        resolver.info_parameter.name if resolver.info_parameter else None,
    )
