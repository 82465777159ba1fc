"""What operators see: metrics, structured logs, traces, per-request bookkeeping.

Nothing here ever records `context`, `contact_channel_address`, query
variables, credentials or Authorization headers.
"""

from gateway.observability.logs import configure_logging
from gateway.observability.metrics import Metrics
from gateway.observability.requests import RequestInfo, current_request

__all__ = ["Metrics", "RequestInfo", "configure_logging", "current_request"]
