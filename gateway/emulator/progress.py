"""Moving an active execution on from outside, one step at a time (for tests).

The emulator runs an execution at once when it is created, up to its end or a
wait for the contact. Tests of live updates need steps that happen later: these
functions record one more step of an active execution, or end it, at the
emulator's clock, as a contact answering would. (A background run that advances
executions by itself is the emulator's live mode, `gateway.emulator.live`.)
"""

from __future__ import annotations

from gateway.emulator import sids
from gateway.emulator.emulator import Emulator
from gateway.emulator.records import ExecutionRecord, StepRecord
from gateway.emulator.state import AccountState

__all__ = ["end_execution", "take_step"]


def take_step(
    emulator: Emulator,
    flow_sid: str,
    execution_sid: str,
    *,
    name: str = "incomingMessage",
    to: str = "reply",
    widget_type: str = "send-and-wait-for-reply",
) -> StepRecord:
    """Record one more step of an active execution: from where it stands to `to`."""
    account, execution = _active(emulator, flow_sid, execution_sid)
    now = emulator.clock()
    step = StepRecord(
        sid=account.sid_factory.new(sids.STEP),
        name=name,
        transitioned_from=execution.steps[-1].transitioned_to if execution.steps else "Trigger",
        transitioned_to=to,
        type=widget_type,
        date_created=now,
        seq=account.next_seq(),
    )
    execution.steps.append(step)
    execution.date_updated = now
    return step


def end_execution(emulator: Emulator, flow_sid: str, execution_sid: str) -> None:
    """End an active execution, as its last widget finishing would."""
    _, execution = _active(emulator, flow_sid, execution_sid)
    execution.status = "ended"
    execution.date_updated = emulator.clock()


def _active(
    emulator: Emulator, flow_sid: str, execution_sid: str
) -> tuple[AccountState, ExecutionRecord]:
    for account in emulator.accounts.values():
        execution = account.execution(flow_sid, execution_sid)
        if execution is not None:
            if execution.status != "active":
                raise ValueError(f"execution {execution_sid} has ended")
            return account, execution
    raise LookupError(f"no execution {execution_sid} of flow {flow_sid}")
