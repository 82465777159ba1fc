"""The request context every resolver receives."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from strawberry.types import Info as _Info

from gateway.graphql.errors import GatewayError
from gateway.graphql.limits import Limits
from gateway.loaders import Loaders
from gateway.security.principal import NOBODY, Principal

if TYPE_CHECKING:
    from gateway.graphql.subscription import LiveExecutions
    from gateway.graphql.update_reads import UpdateReads


@dataclass
class Context:
    """Per request. `loaders` is replaced for each operation (see `FreshLoaders`):
    over a WebSocket the context outlives many operations, and loaders must not."""

    new_loaders: Callable[[], Loaders]
    request: Any = None
    response: Any = None
    #: Observability hooks (gateway.observability); None in bare tests.
    metrics: Any = None
    tracing: Any = None
    #: Seconds the whole operation may take; None for no deadline.
    request_deadline: float | None = None
    #: The caller and its scopes, as the gate authenticated it; nobody (no scope)
    #: when the gate did not run.
    principal: Principal = NOBODY
    #: Size, shape and cost limits; None applies none (bare tests).
    limits: Limits | None = None
    #: Set when this request is a batch whose operations together cost over
    #: `limits.max_cost`: every operation of it is refused (`limits.price_batch`).
    batch_refusal: GatewayError | None = None
    #: Set by the HTTP view for an operation it answers in parts (multipart/mixed);
    #: otherwise `@defer` and `@stream` are ignored and the answer comes whole.
    incremental_delivery: bool = False
    #: Live updates for subscriptions (`gateway.events.watch.Live`); None where
    #: nothing serves them (plain HTTP).
    live: LiveExecutions | None = None
    #: What subscription updates read, shared and paid for (`Gateway.updates`); None
    #: where no subscription runs.
    updates: UpdateReads | None = None
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = self.new_loaders()


#: What every resolver's `info` is: strawberry's, over this context.
Info = _Info[Context, None]
