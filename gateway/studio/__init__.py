"""The Twilio Studio v2 upstream, and nothing else: SIDs, records, the client."""

from gateway.studio.budget import RetryBudget, RetryBudgetStats
from gateway.studio.circuit import CircuitBreaker, CircuitState, CircuitStats
from gateway.studio.client import StudioClient
from gateway.studio.config import (
    CircuitPolicy,
    ClientConfig,
    RetryBudgetPolicy,
    RetryPolicy,
    Timeouts,
)
from gateway.studio.credentials import Credentials, base_url_from_env, studio_base_url
from gateway.studio.errors import (
    CreateOutcomeUnknown,
    InvalidArgument,
    InvalidSid,
    Malformed,
    NotCreated,
    Reason,
    StudioError,
)
from gateway.studio.flight import SingleFlight, SingleFlightStats
from gateway.studio.params import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    PAGING_PARAMS,
    REVISION_ALIASES,
    PageRef,
    execution_query,
    revision_ref,
)
from gateway.studio.records import (
    Execution,
    ExecutionContext,
    ExecutionStatus,
    ExecutionStep,
    Flow,
    FlowRevision,
    FlowStatus,
    FlowValidation,
    Page,
    PageMeta,
    StepContext,
    TestUsers,
)
from gateway.studio.scope import CallScope, call_scope, current_scope, enter_scope
from gateway.studio.sids import is_sid, validate
from gateway.studio.transport import Attempt, Transport

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "PAGING_PARAMS",
    "REVISION_ALIASES",
    "Attempt",
    "CallScope",
    "CircuitBreaker",
    "CircuitPolicy",
    "CircuitState",
    "CircuitStats",
    "ClientConfig",
    "CreateOutcomeUnknown",
    "Credentials",
    "Execution",
    "ExecutionContext",
    "ExecutionStatus",
    "ExecutionStep",
    "Flow",
    "FlowRevision",
    "FlowStatus",
    "FlowValidation",
    "InvalidArgument",
    "InvalidSid",
    "Malformed",
    "NotCreated",
    "Page",
    "PageMeta",
    "PageRef",
    "Reason",
    "RetryBudget",
    "RetryBudgetPolicy",
    "RetryBudgetStats",
    "RetryPolicy",
    "SingleFlight",
    "SingleFlightStats",
    "StepContext",
    "StudioClient",
    "StudioError",
    "TestUsers",
    "Timeouts",
    "Transport",
    "base_url_from_env",
    "call_scope",
    "current_scope",
    "enter_scope",
    "execution_query",
    "is_sid",
    "revision_ref",
    "studio_base_url",
    "validate",
]
