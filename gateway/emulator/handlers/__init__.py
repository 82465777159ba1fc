"""The 19 Studio v2 operations, by route template and HTTP method."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from gateway.emulator import paths
from gateway.emulator.handlers import executions, flows, revisions, steps
from gateway.emulator.handlers.common import Call, Handler, Reply

OPERATIONS: Final[Mapping[str, Mapping[str, Handler]]] = {
    paths.FLOWS: {"GET": flows.list_flows, "POST": flows.create_flow},
    paths.FLOW_VALIDATE: {"POST": flows.validate_flow},
    paths.FLOW: {"GET": flows.fetch_flow, "POST": flows.update_flow, "DELETE": flows.delete_flow},
    paths.REVISIONS: {"GET": revisions.list_revisions},
    paths.REVISION: {"GET": revisions.fetch_revision},
    paths.TEST_USERS: {"GET": flows.fetch_test_users, "POST": flows.update_test_users},
    paths.EXECUTIONS: {"GET": executions.list_executions, "POST": executions.create_execution},
    paths.EXECUTION: {
        "GET": executions.fetch_execution,
        "POST": executions.update_execution,
        "DELETE": executions.delete_execution,
    },
    paths.EXECUTION_CONTEXT: {"GET": executions.fetch_execution_context},
    paths.STEPS: {"GET": steps.list_steps},
    paths.STEP: {"GET": steps.fetch_step},
    paths.STEP_CONTEXT: {"GET": steps.fetch_step_context},
}

__all__ = ["OPERATIONS", "Call", "Handler", "Reply"]
