"""One Studio event, whatever brought it: the Event Streams webhook or a poller.

An event carries the REST record it stands for (`Execution` for the two
execution types, `ExecutionStep` for a step), mapped from the event's own field
names, so subscriptions resolve it through the same GraphQL types as queries.
What an event lacks (a step's `type` and `context`, an execution's `context`)
is left `None` on the record, and fetched through the loaders when selected.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway.studio.records import Execution, ExecutionStep

EXECUTION_STARTED = "com.twilio.studio.flow.execution.started"
EXECUTION_ENDED = "com.twilio.studio.flow.execution.ended"
STEP_ENDED = "com.twilio.studio.flow.step.ended"
#: The Studio types the gateway acts on; every other type is counted and ignored.
STUDIO_TYPES = frozenset({EXECUTION_STARTED, EXECUTION_ENDED, STEP_ENDED})
#: The gateway's own: a poller found the watched execution, or flow, gone (deleted,
#: 404). Studio sends no event for a deletion; never accepted from the webhook.
EXECUTION_GONE = "studio-gateway.execution.gone"
FLOW_GONE = "studio-gateway.flow.gone"


@dataclass(frozen=True, slots=True)
class StudioEvent:
    """A Studio event, with the record it describes."""

    #: The CloudEvent `id` (de-duplication key); a poller's events use `poll:<sid>`.
    id: str
    #: One of `STUDIO_TYPES`.
    type: str
    #: When it happened (the CloudEvent `time`, else the record's `date_created`):
    #: delivery is unordered, and this is what orders it.
    time: datetime
    account_sid: str
    flow_sid: str
    execution_sid: str
    #: For the two execution types.
    execution: Execution | None = None
    #: For `STEP_ENDED`.
    step: ExecutionStep | None = None

    def __repr__(self) -> str:
        # Records carry contact addresses: never print them.
        return (
            f"StudioEvent(type={self.type!r}, id={self.id!r}, execution_sid={self.execution_sid!r})"
        )

    @property
    def ends_execution(self) -> bool:
        return self.type in (EXECUTION_ENDED, EXECUTION_GONE, FLOW_GONE)

    @property
    def gone(self) -> bool:
        """Whether what a watch watches no longer exists upstream."""
        return self.type in (EXECUTION_GONE, FLOW_GONE)
