"""`RequestDeadline`: an operation answers by its deadline with what resolved by then."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import strawberry

from gateway.emulator import Emulator
from gateway.graphql import Context
from gateway.graphql.deadline import RequestDeadline
from gateway.graphql.schema import build_schema
from gateway.loaders import Loaders
from gateway.security.principal import EVERYONE
from gateway.studio import ClientConfig, Credentials, StudioClient, Timeouts, Transport
from tests.support import FAST_RETRY, ends_at, until

FETCH_FLOW = "GET /v2/Flows/{Sid}"
CONTEXT_ROUTE = "/v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Context"

EXECUTION_WITH_CONTEXT = """query($f: ID!, $e: ID!, $other: ID!) {
  execution(flowSid: $f, sid: $e) { sid status context }
  other: flow(sid: $other) { friendlyName } }"""


@pytest.fixture
async def client(emulator_url: str, credentials: Credentials) -> AsyncIterator[StudioClient]:
    """Over a real socket, with call deadlines far longer than any request deadline here."""
    config = ClientConfig(
        base_url=emulator_url, retry=FAST_RETRY, timeouts=Timeouts(read=30, deadline=30)
    )
    studio = StudioClient(Transport(config), credentials)
    yield studio
    await studio.aclose()


@pytest.fixture
def schema() -> strawberry.Schema:
    return build_schema(extensions=[RequestDeadline])


async def run(
    schema: strawberry.Schema,
    client: StudioClient,
    document: str,
    variables: dict[str, Any],
    deadline: float | None,
) -> Any:
    context = Context(
        new_loaders=lambda: Loaders(client), principal=EVERYONE, request_deadline=deadline
    )
    return await schema.execute(document, variables, context_value=context)


def variables(emulator: Emulator) -> dict[str, str]:
    handles = emulator.seeded_handles
    flow_sid, execution_sid = handles.ended_execution
    return {"f": flow_sid, "e": execution_sid, "other": handles.survey_flow_sid}


def codes(result: Any) -> list[str | None]:
    return [(e.extensions or {}).get("code") for e in result.errors or []]


async def test_at_the_deadline_waiting_fields_time_out_and_the_rest_is_answered(
    schema: strawberry.Schema, client: StudioClient, emulator: Emulator
) -> None:
    emulator.faults.enqueue("hang", route=CONTEXT_ROUTE)

    # Long enough for the fields that do answer on a loaded machine; the hung one waits an hour.
    async with ends_at(2.0):
        result = await run(schema, client, EXECUTION_WITH_CONTEXT, variables(emulator), 2.0)

    assert result.data["execution"]["sid"] == variables(emulator)["e"]
    assert result.data["execution"]["status"] == "ENDED"
    assert result.data["execution"]["context"] is None
    assert result.data["other"]["friendlyName"]
    (error,) = result.errors
    assert error.path == ["execution", "context"]
    assert error.extensions["code"] == "UPSTREAM_TIMEOUT"
    # Nothing is left running: the hung call was ended and its connection closed.
    assert client.transport.in_flight == 0
    await until(lambda: emulator.in_flight == 0)


async def test_every_call_still_waiting_ends_at_the_deadline(
    schema: strawberry.Schema, client: StudioClient, emulator: Emulator
) -> None:
    emulator.faults.enqueue("hang", count=10)  # every request: the execution and the flow

    async with ends_at(0.3):
        result = await run(schema, client, EXECUTION_WITH_CONTEXT, variables(emulator), 0.3)

    assert result.data == {"execution": None, "other": None}
    assert set(codes(result)) == {"UPSTREAM_TIMEOUT"}
    assert client.transport.in_flight == 0
    assert client.transport.single_flight.stats.in_flight == 0
    await until(lambda: emulator.in_flight == 0)


async def test_the_deadline_counts_from_the_start_of_the_operation_across_dependent_calls(
    schema: strawberry.Schema, client: StudioClient, emulator: Emulator
) -> None:
    # Two dependent rounds (the flow with its executions, then their steps) at
    # 0.6 s each do not fit in 1 s: each call gets what is left, not a fresh 1 s
    # (with which both rounds would answer, in 1.2 s).
    emulator.latency = 0.6
    document = """query($f: ID!) { flow(sid: $f) { friendlyName
      executions(first: 2) { nodes { sid steps(first: 2) { nodes { name } } } } } }"""

    async with ends_at(1.0):
        result = await run(schema, client, document, variables(emulator), 1.0)

    assert set(codes(result)) == {"UPSTREAM_TIMEOUT"}
    assert client.transport.in_flight == 0


async def test_no_deadline_means_no_bound(
    schema: strawberry.Schema, client: StudioClient, emulator: Emulator
) -> None:
    emulator.latency = 0.3

    result = await run(schema, client, EXECUTION_WITH_CONTEXT, variables(emulator), None)

    assert result.errors is None
    assert result.data["execution"]["context"] is not None


async def test_a_retry_after_beyond_the_request_deadline_is_rate_limited_at_once(
    schema: strawberry.Schema, client: StudioClient, emulator: Emulator
) -> None:
    # Waiting out 25 s would still fit the call's own 30 s; not the request's 20 s.
    emulator.faults.enqueue("429", count=3, route="/v2/Flows/{Sid}", retry_after=25)

    async with ends_at(0):
        result = await run(schema, client, EXECUTION_WITH_CONTEXT, variables(emulator), 20.0)

    assert codes(result) == ["RATE_LIMITED"]
    assert result.errors[0].extensions["retryAfter"] == 25
    assert emulator.requests[FETCH_FLOW] == 1


async def test_a_mutation_waiting_on_a_hung_upstream_times_out_at_the_deadline(
    schema: strawberry.Schema, client: StudioClient, emulator: Emulator
) -> None:
    emulator.faults.enqueue("hang", method="POST", route="/v2/Flows/{FlowSid}/Executions")
    document = """mutation($f: ID!) {
      createExecution(flowSid: $f, to: "+15005550999", from: "+15005550001") { sid } }"""

    async with ends_at(0.3):
        result = await run(
            schema, client, document, {"f": emulator.seeded_handles.survey_flow_sid}, 0.3
        )

    assert result.data == {"createExecution": None}
    assert codes(result) == ["UPSTREAM_TIMEOUT"]
    await until(lambda: emulator.in_flight == 0)


async def test_a_context_without_the_attribute_has_no_deadline(
    schema: strawberry.Schema, client: StudioClient, emulator: Emulator
) -> None:
    class Bare:
        principal = EVERYONE

        def __init__(self) -> None:
            self.loaders = Loaders(client)

        def new_loaders(self) -> Loaders:
            return Loaders(client)

    result = await schema.execute(
        "query($f: ID!) { flow(sid: $f) { friendlyName } }",
        {"f": emulator.seeded_handles.survey_flow_sid},
        context_value=Bare(),
    )
    assert result.errors is None
