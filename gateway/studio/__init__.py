"""The Twilio Studio v2 upstream, and nothing else: SIDs, records, the client."""

from gateway.studio.client import REVISION_ALIASES, UNSET, PageRef, StudioClient, revision_ref
from gateway.studio.config import ClientConfig, RetryPolicy, Timeouts
from gateway.studio.credentials import Credentials, base_url_from_env, studio_base_url
from gateway.studio.errors import InvalidArgument, InvalidSid, Reason, StudioError
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
from gateway.studio.sids import (
    AccountSid,
    ContactSid,
    ExecutionSid,
    FlowSid,
    Sid,
    StepSid,
    UserSid,
    is_sid,
    validate,
)
from gateway.studio.transport import Attempt, Transport

__all__ = [
    "REVISION_ALIASES",
    "UNSET",
    "AccountSid",
    "Attempt",
    "ClientConfig",
    "ContactSid",
    "Credentials",
    "Execution",
    "ExecutionContext",
    "ExecutionSid",
    "ExecutionStatus",
    "ExecutionStep",
    "Flow",
    "FlowRevision",
    "FlowSid",
    "FlowStatus",
    "FlowValidation",
    "InvalidArgument",
    "InvalidSid",
    "Page",
    "PageMeta",
    "PageRef",
    "Reason",
    "RetryPolicy",
    "Sid",
    "StepContext",
    "StepSid",
    "StudioClient",
    "StudioError",
    "TestUsers",
    "Timeouts",
    "Transport",
    "UserSid",
    "base_url_from_env",
    "is_sid",
    "revision_ref",
    "studio_base_url",
    "validate",
]
