"""What every handler gets and gives back, and the lookups they share."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.emulator import sids
from gateway.emulator.errors import not_found
from gateway.emulator.forms import Form
from gateway.emulator.records import ExecutionRecord, FlowRecord, StepRecord
from gateway.emulator.state import AccountState


@dataclass(frozen=True, slots=True)
class Call:
    """One authenticated request, as a handler sees it."""

    account: AccountState
    path: str
    params: Mapping[str, str]
    query: Mapping[str, str]
    form: Form
    base_url: str
    now: datetime


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: dict[str, Any] | None = None


Handler = Callable[[Call], Reply]


def find_flow(call: Call, name: str = "Sid") -> FlowRecord:
    """The flow the path names; a malformed SID is simply not found, as on Twilio."""
    sid = call.params[name]
    flow = call.account.flows.get(sid) if sids.is_sid(sid, sids.FLOW) else None
    if flow is None:
        raise not_found(call.path)
    return flow


def find_execution(call: Call, name: str) -> tuple[FlowRecord, ExecutionRecord]:
    flow = find_flow(call, "FlowSid")
    sid = call.params[name]
    execution = flow.executions.get(sid) if sids.is_sid(sid, sids.EXECUTION) else None
    if execution is None:
        raise not_found(call.path)
    return flow, execution


def find_step(call: Call, name: str) -> tuple[ExecutionRecord, StepRecord]:
    _, execution = find_execution(call, "ExecutionSid")
    sid = call.params[name]
    step = execution.step(sid) if sids.is_sid(sid, sids.STEP) else None
    if step is None:
        raise not_found(call.path)
    return execution, step


def api_author(account: AccountState) -> str:
    """The user SID that changes made over the REST API are attributed to."""
    return sids.fixed_sid(sids.USER, f"api:{account.account_sid}")
