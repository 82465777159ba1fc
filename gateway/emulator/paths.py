"""The Studio v2 route templates, spelled exactly as the OpenAPI spec spells its paths.

They name routes in the request counters and in scripted faults, and they build
every URL the emulator puts in a body, so one spelling serves all three.
"""

from __future__ import annotations

from typing import Final

FLOWS: Final = "/v2/Flows"
FLOW: Final = "/v2/Flows/{Sid}"
FLOW_VALIDATE: Final = "/v2/Flows/Validate"
REVISIONS: Final = "/v2/Flows/{Sid}/Revisions"
REVISION: Final = "/v2/Flows/{Sid}/Revisions/{Revision}"
TEST_USERS: Final = "/v2/Flows/{Sid}/TestUsers"
EXECUTIONS: Final = "/v2/Flows/{FlowSid}/Executions"
EXECUTION: Final = "/v2/Flows/{FlowSid}/Executions/{Sid}"
EXECUTION_CONTEXT: Final = "/v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Context"
STEPS: Final = "/v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Steps"
STEP: Final = "/v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Steps/{Sid}"
STEP_CONTEXT: Final = "/v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Steps/{StepSid}/Context"

# Validate is listed before {Sid} because a router tries templates in order and
# "/v2/Flows/Validate" also fits "/v2/Flows/{Sid}".
ROUTE_TEMPLATES: Final[tuple[str, ...]] = (
    FLOWS,
    FLOW_VALIDATE,
    FLOW,
    REVISIONS,
    REVISION,
    TEST_USERS,
    EXECUTIONS,
    EXECUTION,
    EXECUTION_CONTEXT,
    STEPS,
    STEP,
    STEP_CONTEXT,
)
