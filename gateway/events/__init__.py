"""Real time: Studio's Event Streams in, subscriptions out.

Events reach the gateway two ways, the Event Streams webhook (`intake`) or a
poller of the Steps list where no events come; both become `StudioEvent`s on one
`Broker` (in-process, or Redis pub/sub across replicas), and subscriptions read
from it. See docs/ARCHITECTURE.md, "Live executions".
"""

from gateway.events.broker import Broker, Listener, LocalBroker
from gateway.events.model import (
    EXECUTION_ENDED,
    EXECUTION_GONE,
    EXECUTION_STARTED,
    FLOW_GONE,
    STEP_ENDED,
    STUDIO_TYPES,
    StudioEvent,
)

__all__ = [
    "EXECUTION_ENDED",
    "EXECUTION_GONE",
    "EXECUTION_STARTED",
    "FLOW_GONE",
    "STEP_ENDED",
    "STUDIO_TYPES",
    "Broker",
    "Listener",
    "LocalBroker",
    "StudioEvent",
]
