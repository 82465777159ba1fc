"""Typing helpers for resolvers: strawberry's decorators with the field's policy, and `later`.

Called for their options (`@strawberry.field(description=...)`), strawberry's
decorators are typed as answering `Any`, so every resolver under them would lose
its signature to the type checker ("untyped decorator"). These say what the
decorator does, `Callable[[F], F]`, so mypy keeps checking each resolver's
arguments, body and return type. At run time each is strawberry's own call with
the resolver, `strawberry.field(resolver, **options)`, plus the field's policy
(`gateway.graphql.policy`): the scopes it needs, checked by the permission
classes of those it tests itself, and its price, in its metadata and as SDL
directives. Every resolver of the schema is declared through them.

`RecordFields` makes the many fields that read one value of their object's
record: one line each, the read and the price declared together.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar, cast

import strawberry
from strawberry.permission import BasePermission

from gateway.graphql.policy import FREE, IDENTITY, SUMMARY, WHOLE, FieldPolicy, Price, Scopes
from gateway.graphql.scopes import CHECKS

__all__ = ["RecordFields", "field", "identity", "later", "mutation", "subscription"]

F = TypeVar("F", bound=Callable[..., Any])
R = TypeVar("R")
V = TypeVar("V")


def _options(scopes: Scopes | None, price: Price | None) -> dict[str, Any]:
    """Strawberry's options for a field of this policy."""
    policy = FieldPolicy(scopes, price)
    checks: list[type[BasePermission]] = [
        CHECKS[scope] for scope in sorted(scopes.checked if scopes is not None else ())
    ]
    return {
        "permission_classes": checks or None,
        "metadata": policy.metadata(),
        "directives": policy.directives(),
    }


def field(
    *,
    description: str,
    name: str | None = None,
    scopes: Scopes | None = None,
    price: Price | None = None,
) -> Callable[[F], F]:
    """A resolver as a field of its type: `@strawberry.field(...)`, typed, with its policy."""

    def decorate(resolver: F) -> F:
        # The class keeps strawberry's field object; the checker keeps the resolver.
        return cast(
            F,
            strawberry.field(
                resolver, name=name, description=description, **_options(scopes, price)
            ),
        )

    return decorate


def identity(*, description: str, name: str | None = None) -> Callable[[F], F]:
    """A field of the object's identity: free to read, and no call."""
    return field(description=description, name=name, scopes=IDENTITY, price=FREE)


def mutation(*, description: str, scopes: Scopes, price: Price) -> Callable[[F], F]:
    """A resolver as a field of `Mutation`: `@strawberry.mutation(...)`, typed."""

    def decorate(resolver: F) -> F:
        return cast(
            F, strawberry.mutation(resolver, description=description, **_options(scopes, price))
        )

    return decorate


def subscription(*, description: str, scopes: Scopes, price: Price) -> Callable[[F], F]:
    """A resolver as a field of `Subscription`: `@strawberry.subscription(...)`, typed."""

    def decorate(resolver: F) -> F:
        return cast(
            F,
            strawberry.subscription(resolver, description=description, **_options(scopes, price)),
        )

    return decorate


class RecordFields(Generic[R]):
    """Fields that each read one value of their object's record (of type `R`).

    `field = RecordFields[studio.Execution](scopes)` then, in the class,
    `status: ExecutionStatus | None = field(lambda r: ..., description=...)`: the
    attribute's annotation is the field's GraphQL type. The object answers
    `_get(info, read, whole=...)`, from its record when it holds it, else by
    loading it; with `holds=True` it always holds it in `record`, and the field
    takes no `info` (a direct call: `gateway.graphql.direct`).
    """

    def __init__(self, scopes: Scopes, *, holds: bool = False) -> None:
        self.scopes = scopes
        self.holds = holds

    def __call__(
        self,
        read: Callable[[R], object],
        *,
        description: str,
        whole: bool = False,
        scopes: Scopes | None = None,
        name: str | None = None,
    ) -> Any:
        resolve: Callable[..., object]
        if self.holds:

            def resolve(self: Any) -> object:
                return read(self.record)

        elif whole:

            def resolve(self: Any, info: strawberry.Info) -> object:
                return self._get(info, read, whole=True)

        else:

            def resolve(self: Any, info: strawberry.Info) -> object:
                return self._get(info, read)

        # No return annotation: strawberry takes the field's type from the attribute's.
        del resolve.__annotations__["return"]
        return strawberry.field(
            resolver=resolve,
            name=name,
            description=description,
            **_options(scopes or self.scopes, WHOLE if whole else SUMMARY),
        )


def later(value: Awaitable[V]) -> V:
    """An awaitable of a sync resolver's answer, passed off as the answer itself.

    graphql-core awaits whatever awaitable a resolver returns, so a field answers
    at once when its record is here and loads it only when it is not, while the
    resolver's return annotation, which strawberry reads the field's GraphQL type
    from, names the value alone. This is the one place that says so to mypy.
    """
    return cast(V, value)
