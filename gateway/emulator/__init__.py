"""A faithful in-memory Twilio Studio v2 server, seeded with a realistic account.

    from gateway.emulator import Emulator, create_app
    emulator = Emulator.seeded(seed=7)
    app = create_app(emulator)   # any ASGI server; URLs in bodies point back at it

It shares no code with `gateway.studio`: a bug cannot hide by living on both
sides of the wire.
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
from gateway.emulator.records import ExecutionRecord, FlowRecord, RevisionRecord, StepRecord
from gateway.emulator.state import AccountState

__all__ = [
    "DEMO_ACCOUNT_SID",
    "DEMO_AUTH_TOKEN",
    "FAULT_KINDS",
    "AccountState",
    "ActiveExecutionHandle",
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
