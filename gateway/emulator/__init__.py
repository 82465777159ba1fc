"""A faithful in-memory Twilio Studio v2 server, seeded with a realistic account.

    from gateway.emulator import Emulator, create_app
    emulator = Emulator.seeded(seed=7)
    app = create_app(emulator)   # any ASGI server; URLs in bodies point back at it

It shares no code with `gateway.studio`: a bug cannot hide by living on both
sides of the wire.

Where Twilio's behaviour is undocumented, the emulator chooses, and says so here:
- Execution and step resources carry `context: {}`, as in the spec's examples;
  the context itself is served by the /Context endpoints.
- Revisions are listed newest first. An update saves a new revision only when the
  definition, status or friendly name changes.
- A REST-created execution has `initiated_by` = a Request SID ("RQ..."), runs the
  latest published revision (the latest revision, draft or not, for a test user),
  and is refused with 400/20001 on a flow that was never published.
- 81022 carries `details: {"errors": [{"message", "property_path"}], "warnings": []}`.
- A method a route does not support is 405/20004; injected 500/503/504 use codes
  20500/20503/20504; an injected 502 is an HTML page, as a proxy would send.
- Every response has a `Twilio-Concurrent-Requests` header.
"""

from __future__ import annotations

from gateway.emulator.app import create_app
from gateway.emulator.auth import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN
from gateway.emulator.emulator import Emulator
from gateway.emulator.faults import FAULT_KINDS, DroppedConnection, Faults
from gateway.emulator.handles import (
    ActiveExecutionHandle,
    ExecutionHandle,
    SeededHandles,
    StepHandle,
)
from gateway.emulator.limits import CREATE_LIMITERS, CreateLimiter
from gateway.emulator.records import ExecutionRecord, FlowRecord, RevisionRecord, StepRecord
from gateway.emulator.state import AccountState

__all__ = [
    "CREATE_LIMITERS",
    "DEMO_ACCOUNT_SID",
    "DEMO_AUTH_TOKEN",
    "FAULT_KINDS",
    "AccountState",
    "ActiveExecutionHandle",
    "CreateLimiter",
    "DroppedConnection",
    "Emulator",
    "ExecutionHandle",
    "ExecutionRecord",
    "Faults",
    "FlowRecord",
    "RevisionRecord",
    "SeededHandles",
    "StepHandle",
    "StepRecord",
    "create_app",
]
