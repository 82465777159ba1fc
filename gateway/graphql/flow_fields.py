"""What a Flow and each of its revisions share: the spec fields, and a validation answer.

The field descriptions are Twilio's own, from the Studio v2 OpenAPI spec.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Final, TypeVar

import strawberry

from gateway import studio
from gateway.graphql.context import Info
from gateway.graphql.fields import field
from gateway.graphql.scalars import JSON, FlowStatus
from gateway.graphql.widgets import Widget, widgets_of

V = TypeVar("V")

CREATED: Final = (
    "The date and time in GMT when the resource was created specified in ISO 8601 format."
)
UPDATED: Final = (
    "The date and time in GMT when the resource was last updated specified in ISO 8601 format."
)
CONTEXT: Final = (
    "The current state of the Flow's Execution. As a flow executes, we save its state in "
    "this context. We save data that your widgets can access as variables in configuration "
    "fields or in text areas as variable substitution."
)


@strawberry.type(description="A validation answer for a flow definition.")
class FlowValidation:
    valid: bool = strawberry.field(description="Boolean if the flow definition is valid.")
    errors: JSON | None = strawberry.field(
        description="When invalid: Twilio's list of what is wrong (error 81022's details)."
    )


#: What `FlowFields` reads its spec fields from.
FlowRecord = studio.Flow | studio.FlowRevision


@strawberry.type(description="What a flow and each of its revisions share.")
class FlowFields:
    """The spec fields a Flow and a FlowRevision have alike. Each subclass says, in
    `_get`, how to read one: at once from its record, or by loading the object."""

    flow_sid: strawberry.Private[str]

    def _get(self, info: Info, read: Callable[[FlowRecord], V], whole: bool = False) -> V:
        """`read` of the record; `whole` when a list's abridged record will not do."""
        raise NotImplementedError

    @field(description="The unique string that we created to identify the Flow resource.")
    def sid(self) -> str:
        return self.flow_sid

    @field(description="The SID of the Account that created the Flow resource.")
    def account_sid(self, info: Info) -> str | None:
        return self._get(info, lambda r: r.account_sid)

    @field(description="The SID of the User that created or last updated the Flow.")
    def author_sid(self, info: Info) -> str | None:
        return self._get(info, lambda r: r.author_sid)

    @field(description="The string that you assigned to describe the Flow.")
    def friendly_name(self, info: Info) -> str | None:
        return self._get(info, lambda r: r.friendly_name)

    @field(description="JSON representation of flow definition.")
    def definition(self, info: Info) -> JSON | None:
        return self._get(info, lambda r: JSON(r.definition), whole=True)

    @field(description="Whether it is a draft or published.")
    def status(self, info: Info) -> FlowStatus | None:
        return self._get(info, lambda r: FlowStatus(r.status.value))

    @field(description="Description of change made in the revision.")
    def commit_message(self, info: Info) -> str | None:
        return self._get(info, lambda r: r.commit_message, whole=True)

    @field(description="Boolean if the flow definition is valid.")
    def valid(self, info: Info) -> bool | None:
        return self._get(info, lambda r: r.valid, whole=True)

    @field(description="List of error in the flow definition.")
    def errors(self, info: Info) -> JSON | None:
        return self._get(info, lambda r: JSON(r.errors), whole=True)

    @field(description=CREATED)
    def date_created(self, info: Info) -> datetime | None:
        return self._get(info, lambda r: r.date_created)

    @field(description=UPDATED)
    def date_updated(self, info: Info) -> datetime | None:
        return self._get(info, lambda r: r.date_updated)

    @field(description="The absolute URL of the resource.")
    def url(self, info: Info) -> str | None:
        return self._get(info, lambda r: r.url)

    @field(description="The widgets of the definition.")
    def widgets(self, info: Info) -> list[Widget] | None:
        return self._get(info, lambda r: widgets_of(r.definition), whole=True)
