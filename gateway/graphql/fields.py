"""Typing helpers for resolvers: strawberry's decorators typed for `mypy --strict`, and `later`.

Called for their options (`@strawberry.field(description=...)`), strawberry's
decorators are typed as answering `Any`, so every resolver under them would lose
its signature to the type checker ("untyped decorator"). These two say what the
decorator does, `Callable[[F], F]`, so mypy keeps checking each resolver's
arguments, body and return type. At run time each is exactly strawberry's own
call with the resolver, `strawberry.field(resolver, **options)`: the same field,
the same schema. Every resolver of the schema is declared through them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import strawberry
from strawberry.permission import BasePermission

__all__ = ["field", "later", "mutation", "subscription"]

F = TypeVar("F", bound=Callable[..., Any])
V = TypeVar("V")


def field(
    *,
    description: str,
    name: str | None = None,
    permission_classes: list[type[BasePermission]] | None = None,
) -> Callable[[F], F]:
    """A resolver as a field of its type: `@strawberry.field(...)`, typed."""

    def decorate(resolver: F) -> F:
        # The class keeps strawberry's field object; the checker keeps the resolver.
        return cast(
            F,
            strawberry.field(
                resolver,
                name=name,
                description=description,
                permission_classes=permission_classes,
            ),
        )

    return decorate


def mutation(
    *,
    description: str,
    permission_classes: list[type[BasePermission]] | None = None,
) -> Callable[[F], F]:
    """A resolver as a field of `Mutation`: `@strawberry.mutation(...)`, typed."""

    def decorate(resolver: F) -> F:
        return cast(
            F,
            strawberry.mutation(
                resolver, description=description, permission_classes=permission_classes
            ),
        )

    return decorate


def subscription(
    *,
    description: str,
    permission_classes: list[type[BasePermission]] | None = None,
) -> Callable[[F], F]:
    """A resolver as a field of `Subscription`: `@strawberry.subscription(...)`, typed."""

    def decorate(resolver: F) -> F:
        return cast(
            F,
            strawberry.subscription(
                resolver, description=description, permission_classes=permission_classes
            ),
        )

    return decorate


def later(value: Awaitable[V]) -> V:
    """An awaitable of a sync resolver's answer, passed off as the answer itself.

    graphql-core awaits whatever awaitable a resolver returns, so a field answers
    at once when its record is here and loads it only when it is not, while the
    resolver's return annotation, which strawberry reads the field's GraphQL type
    from, names the value alone. This is the one place that says so to mypy.
    """
    return cast(V, value)
