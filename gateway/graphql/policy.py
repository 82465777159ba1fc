"""What each field needs and costs, declared on the field where it is defined.

A field says which scopes reading it needs (`Scopes`) and what it costs
upstream (`Price`) in its own declaration (`gateway.graphql.fields.field`).
Both show in the SDL the way the GraphQL routers read them:
`@requiresScopes(scopes:)` (Apollo Router, Hive Router) and `@cost(weight:)` /
`@listSize(...)` (the IBM cost directive spec, read by Apollo's demand control
and Hive Gateway). The checks build their tables from the schema at start-up
(`access.ScopeTable`, `cost.CostTable`): nothing beside the schema restates it.

The estimate reads more than `@cost` says: which fields read their object's
record (a parent-only object loads it once, on first need), which the list
summaries leave out, which load something once per owning object. Those facts
ride on the field too (`Price`), in its metadata.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import strawberry
from graphql import GraphQLField, GraphQLSchema
from strawberry.schema_directive import Location

from gateway.graphql.internals import field_definition

__all__ = [
    "BY_TYPE",
    "FREE",
    "IDENTITY",
    "ONE_CALL",
    "STUB",
    "SUMMARY",
    "WHOLE",
    "Cost",
    "FieldPolicy",
    "ListSize",
    "Price",
    "Record",
    "RequiresScopes",
    "Scopes",
    "built",
    "data_of",
    "declared",
    "needs",
]

T = TypeVar("T")

#: Where a field keeps its policy in strawberry's field metadata.
_KEY: Final = "gateway.policy"


# -- what the SDL shows --------------------------------------------------------


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    name="requiresScopes",
    description=(
        "The scopes reading this field needs: every scope of one of the inner lists "
        "(Apollo Router and Hive Router's directive)."
    ),
)
class RequiresScopes:
    scopes: list[list[str]]


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    name="cost",
    description=(
        "Upstream calls this field makes of its own, per object it is read on (per page "
        "for a list): the IBM cost directive, as Apollo's demand control reads it."
    ),
)
class Cost:
    weight: int


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    name="listSize",
    description=(
        "How many items this list holds: the value of a slicing argument, else "
        "`assumedSize` (the IBM cost directive spec)."
    ),
)
class ListSize:
    assumed_size: int | None = None
    slicing_arguments: list[str] | None = None
    sized_fields: list[str] | None = None
    require_one_slicing_argument: bool = True


# -- who may read it -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scopes:
    """The scopes reading a field needs, and those its own check tests at execution.

    `required` is what `@requiresScopes` shows. `checked` is what the field's
    permission classes test before it resolves (nulling it with `FORBIDDEN`);
    the rest of `required` was tested on the way to it (the root field, or a
    relation into another family of objects, checked it).
    """

    required: frozenset[str]
    checked: frozenset[str] = frozenset()
    #: Its resolver checks, before it fetches, the read scope of the object type it
    #: fetches (`node(id:)`): fields of a type the caller lacks never run.
    by_type: bool = False

    def also(self, *scopes: str) -> Scopes:
        """These scopes too, checked by the field itself."""
        return Scopes(self.required | set(scopes), self.checked | set(scopes), self.by_type)


def needs(*scopes: str) -> Scopes:
    """Scopes the field checks itself, before it resolves (a root field, a relation)."""
    return Scopes(frozenset(scopes), frozenset(scopes))


def data_of(scope: str) -> Scopes:
    """The data of an object reached only through fields that checked `scope`."""
    return Scopes(frozenset({scope}))


#: `node(id:)`'s: nothing of its own; it checks the scope of the type its id names.
BY_TYPE: Final = Scopes(frozenset(), by_type=True)

#: An object's identity: free to read wherever the object itself may be reached,
#: so a write-only key learns which object its mutation changed or made.
IDENTITY: Final = Scopes(frozenset())


# -- what it costs ---------------------------------------------------------------


class Record(enum.Enum):
    """Which record of its object a field reads."""

    #: In the list's summary and in the object's own fetch.
    SUMMARY = "summary"
    #: Only in the object's own fetch: the lists leave it out.
    WHOLE = "whole"


@dataclass(frozen=True, slots=True)
class Price:
    """What reading a field costs upstream; the estimate's facts about it."""

    #: Calls it makes of its own, per object it is read on (`@cost(weight:)`); for
    #: a connection, per upstream page it reads.
    weight: int = 0
    #: It reads its object's record: one load, shared by all such fields, when the
    #: object was made without it (a parent-only object).
    record: Record | None = None
    #: It returns a parent-only object, made from the parent's SIDs: that object
    #: loads its record on first need, once per distinct owner however many ask.
    stub: bool = False
    #: Its `weight` is charged once per distinct owning object of this type, whose
    #: record it reads (`ExecutionStep.fromWidget`: the revision its execution ran on).
    per_owner: str | None = None
    #: A Relay connection of `first` items, `list_size` when not given
    #: (`@listSize`); read in the pages `paginate` asks for.
    list_size: int | None = None

    def directives(self) -> list[object]:
        """The SDL's account of this price."""
        shown: list[object] = []
        if self.weight:
            shown.append(Cost(weight=self.weight))
        if self.list_size is not None:
            shown.append(
                ListSize(
                    assumed_size=self.list_size,
                    slicing_arguments=["first"],
                    sized_fields=["edges", "nodes"],
                    require_one_slicing_argument=False,
                )
            )
        return shown


#: Nothing upstream: what the object was made of, or a value in hand.
FREE: Final = Price()
#: One call per object it is read on, whatever it selects.
ONE_CALL: Final = Price(weight=1)
#: Read from its object's record; a list's summary holds it.
SUMMARY: Final = Price(record=Record.SUMMARY)
#: Read from its object's whole record; the lists leave it out.
WHOLE: Final = Price(record=Record.WHOLE)
#: A parent-only object: it loads its own record on first need.
STUB: Final = Price(stub=True)


# -- on the field, and back -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldPolicy:
    """One field's declaration; None where the field declared nothing."""

    scopes: Scopes | None = None
    price: Price | None = None

    def metadata(self) -> dict[str, FieldPolicy]:
        """Strawberry's field metadata that carries it."""
        return {_KEY: self}

    def directives(self) -> list[object]:
        """The SDL's account of it: `@requiresScopes`, `@cost`, `@listSize`."""
        shown: list[object] = []
        if self.scopes is not None and self.scopes.required:
            shown.append(RequiresScopes(scopes=[sorted(self.scopes.required)]))
        if self.price is not None:
            shown.extend(self.price.directives())
        return shown


_UNDECLARED: Final = FieldPolicy()


def declared(definition: GraphQLField) -> FieldPolicy:
    """What a field of the schema declared (nothing, for one that did not)."""
    strawberry_field = field_definition(definition)
    found = strawberry_field.metadata if strawberry_field is not None else {}
    policy = found.get(_KEY)
    return policy if isinstance(policy, FieldPolicy) else _UNDECLARED


def built(schema: GraphQLSchema, key: str, build: Callable[[GraphQLSchema], T]) -> T:
    """`build(schema)`, made once per schema and kept with it."""
    kept: dict[str, Any] = schema.extensions.setdefault(_KEY, {})
    if key not in kept:
        kept[key] = build(schema)
    result: T = kept[key]
    return result
