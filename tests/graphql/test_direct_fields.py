"""Plain fields resolve without Strawberry's per-field wrapper; guarded fields keep it."""

from __future__ import annotations

from typing import Any

from strawberry.types import Info

from gateway.emulator import DEMO_ACCOUNT_SID, Emulator
from gateway.graphql import Context
from gateway.graphql.schema import build_schema
from gateway.loaders import Loaders
from gateway.security.principal import EXECUTIONS_READ, Principal
from gateway.studio import StudioClient

STEPS = """query($f: ID!, $e: ID!) { execution(flowSid: $f, sid: $e) {
  sid status steps(first: 50) { nodes { sid name type transitionedFrom dateCreated context } } } }"""


def _an_execution(emulator: Emulator) -> tuple[str, str, int]:
    flows = emulator.account(DEMO_ACCOUNT_SID).flows
    for flow_sid, flow in flows.items():
        for sid, execution in flow.executions.items():
            if len(execution.steps) >= 3:
                return flow_sid, sid, len(execution.steps)
    raise AssertionError("the seed has no execution with steps")


async def test_plain_fields_of_every_step_build_no_info_and_guards_still_refuse(
    emulator: Emulator, studio: StudioClient
) -> None:
    schema = build_schema()
    wrapped: list[str] = []

    class Counted(Info[Any, Any]):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            wrapped.append(kwargs["_field"].python_name)
            super().__init__(*args, **kwargs)

    schema.config.info_class = Counted
    flow_sid, sid, steps = _an_execution(emulator)
    caller = Principal("reader", frozenset({EXECUTIONS_READ}))  # no pii:read
    context = Context(new_loaders=lambda: Loaders(studio), principal=caller)

    result = await schema.execute(STEPS, {"f": flow_sid, "e": sid}, context_value=context)

    nodes = result.data["execution"]["steps"]["nodes"]  # type: ignore[index]
    assert len(nodes) == steps and all(n["name"] and n["sid"] for n in nodes)
    assert all(n["context"] is None for n in nodes)
    assert {e.extensions["code"] for e in result.errors or []} == {"FORBIDDEN"}  # type: ignore[index]
    # Strawberry's wrapper (which builds an Info) only for the fields with
    # arguments and the guarded ones (a permission class runs first); an Info
    # for a plain method that asks for one (`status`); none for the steps' data.
    assert sorted(set(wrapped)) == ["context", "execution", "status", "steps"]
    assert wrapped.count("context") == steps and wrapped.count("status") == 1
