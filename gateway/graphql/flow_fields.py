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
from gateway.graphql.fields import RecordFields, identity
from gateway.graphql.scalars import JSON, FlowStatus
from gateway.graphql.scopes import FLOW_DATA
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

flow_field = RecordFields[FlowRecord](FLOW_DATA)


@strawberry.type(description="What a flow and each of its revisions share.")
class FlowFields:
    """The spec fields a Flow and a FlowRevision have alike. Each subclass says, in
    `_get`, how to read one: at once from its record, or by loading the object."""

    flow_sid: strawberry.Private[str]

    def _get(self, info: Info, read: Callable[[FlowRecord], V], whole: bool = False) -> V:
        """`read` of the record; `whole` when a list's abridged record will not do."""
        raise NotImplementedError

    @identity(description="The unique string that we created to identify the Flow resource.")
    def sid(self) -> str:
        return self.flow_sid

    account_sid: str | None = flow_field(
        lambda r: r.account_sid,
        description="The SID of the Account that created the Flow resource.",
    )
    author_sid: str | None = flow_field(
        lambda r: r.author_sid,
        description="The SID of the User that created or last updated the Flow.",
    )
    friendly_name: str | None = flow_field(
        lambda r: r.friendly_name,
        description="The string that you assigned to describe the Flow.",
    )
    definition: JSON | None = flow_field(
        lambda r: JSON(r.definition),
        description="JSON representation of flow definition.",
        whole=True,
    )
    status: FlowStatus | None = flow_field(
        lambda r: FlowStatus(r.status.value), description="Whether it is a draft or published."
    )
    commit_message: str | None = flow_field(
        lambda r: r.commit_message,
        description="Description of change made in the revision.",
        whole=True,
    )
    valid: bool | None = flow_field(
        lambda r: r.valid, description="Boolean if the flow definition is valid.", whole=True
    )
    errors: JSON | None = flow_field(
        lambda r: JSON(r.errors), description="List of error in the flow definition.", whole=True
    )
    date_created: datetime | None = flow_field(lambda r: r.date_created, description=CREATED)
    date_updated: datetime | None = flow_field(lambda r: r.date_updated, description=UPDATED)
    url: str | None = flow_field(lambda r: r.url, description="The absolute URL of the resource.")
    widgets: list[Widget] | None = flow_field(
        lambda r: widgets_of(r.definition), description="The widgets of the definition.", whole=True
    )
