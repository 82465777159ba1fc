"""The fault matrix: for each upstream fault, what the client sees and what the upstream saw.

Every answer is HTTP 200 with a valid GraphQL body (checked by `Rig.query`);
a fault nulls only the fields that needed the failing call, with a stable
`extensions.code`, and the other fields still answer.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from gateway.emulator import Emulator
from gateway.studio import CircuitPolicy, Timeouts
from tests.support import (
    UPSTREAM_CODES,
    Rig,
    codes,
    ends_at,
    error_at,
    free_port,
    open_rig,
    paused,
    until,
)

FETCH_FLOW = "GET /v2/Flows/{Sid}"
LIST_FLOWS = "GET /v2/Flows"
LIST_EXECUTIONS = "GET /v2/Flows/{FlowSid}/Executions"
LIST_STEPS = "GET /v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Steps"
CREATE_EXECUTION = "POST /v2/Flows/{FlowSid}/Executions"

#: Two top-level fields on two routes: a fault on one leaves the other whole.
FLOW_AND_LIST = """query($f: ID!) {
  flow(sid: $f) { sid friendlyName }
  flows(first: 3) { nodes { sid friendlyName } } }"""

DASHBOARD = """{ flows(first: 5) { nodes { sid friendlyName
  executions(first: 3) { nodes { sid status steps(first: 3) { nodes { name } } } } } } }"""

CREATE = """mutation($f: ID!, $to: String!) {
  createExecution(flowSid: $f, to: $to, from: "+15005550001") { sid status } }"""


def survey(emulator: Emulator) -> dict[str, str]:
    return {"f": emulator.seeded_handles.survey_flow_sid}


async def operations_finished(rig: Rig, count: int) -> bool:
    """Whether the gateway has finished `count` GraphQL operations, by its /metrics."""
    metrics = (await rig.http.get("/metrics")).text
    prefix = 'studio_gateway_graphql_request_seconds_count{type="query"} '
    lines = [line for line in metrics.splitlines() if line.startswith(prefix)]
    return [float(line.removeprefix(prefix)) for line in lines] == [count]


def shared_waiters(rig: Rig) -> int:
    """Callers waiting on the gateway's shared reads (read from the gateway's thread)."""
    try:
        return rig.transport.single_flight.stats.waiting
    except RuntimeError:  # the table changed while this thread read it: look again
        return -1


def assert_flow_failed_list_answered(result: dict[str, object], code: str) -> dict[str, object]:
    data = result["data"]
    assert isinstance(data, dict)
    assert data["flow"] is None
    assert len(data["flows"]["nodes"]) == 3  # type: ignore[index]
    error = error_at(result, "flow")  # type: ignore[arg-type]
    assert error["extensions"]["code"] == code
    return error


async def test_latency_with_jitter_changes_nothing_but_time(rig: Rig, emulator: Emulator) -> None:
    baseline = await rig.query(DASHBOARD)
    calls = rig.calls
    emulator.latency, emulator.jitter = 0.02, 0.04

    result = await rig.query(DASHBOARD)

    assert "errors" not in result
    assert result == baseline
    assert rig.calls == calls


async def test_a_hung_upstream_times_out_and_the_other_fields_still_answer(
    emulator: Emulator, emulator_url: str
) -> None:
    # The list must answer within the deadline, even on a loaded machine.
    timeouts = Timeouts(connect=1.0, read=1.5, deadline=2.0)
    async with open_rig(emulator, emulator_url, timeouts=timeouts) as rig:
        emulator.faults.enqueue("hang", count=5, route="/v2/Flows/{Sid}")

        async with ends_at(2.0):  # the call's deadline, not the hour the upstream hangs
            result = await rig.query(FLOW_AND_LIST, survey(emulator))

        assert_flow_failed_list_answered(result, "UPSTREAM_TIMEOUT")
        await until(lambda: emulator.in_flight == 0 and rig.transport.in_flight == 0)


async def test_a_refused_connection_is_upstream_unavailable(emulator: Emulator) -> None:
    async with open_rig(emulator, f"http://127.0.0.1:{free_port()}") as rig:
        result = await rig.query(FLOW_AND_LIST, survey(emulator))

    # Each field fails alone: nothing non-null above them nulls the whole answer.
    assert result["data"] == {"flow": None, "flows": None}
    assert set(codes(result)) == {"UPSTREAM_UNAVAILABLE"}
    assert rig.calls == 0


async def test_a_connection_reset_mid_body_is_retried_for_a_read(
    rig: Rig, emulator: Emulator
) -> None:
    emulator.faults.enqueue("drop", route="/v2/Flows/{Sid}")

    result = await rig.query(FLOW_AND_LIST, survey(emulator))

    assert "errors" not in result
    assert result["data"]["flow"]["sid"] == emulator.seeded_handles.survey_flow_sid
    assert emulator.requests[FETCH_FLOW] == 2


async def test_connection_resets_on_every_attempt_are_upstream_unavailable(
    rig: Rig, emulator: Emulator
) -> None:
    emulator.faults.enqueue("drop", count=3, route="/v2/Flows/{Sid}")

    result = await rig.query(FLOW_AND_LIST, survey(emulator))

    assert_flow_failed_list_answered(result, "UPSTREAM_UNAVAILABLE")
    assert emulator.requests[FETCH_FLOW] == 3


@pytest.mark.parametrize("status", ["502", "503", "504"])
async def test_a_short_burst_of_gateway_errors_is_ridden_out(
    rig: Rig, emulator: Emulator, status: str
) -> None:
    emulator.faults.enqueue(status, count=2, route="/v2/Flows/{Sid}")

    result = await rig.query(FLOW_AND_LIST, survey(emulator))

    assert "errors" not in result
    assert emulator.requests[FETCH_FLOW] == 3


@pytest.mark.parametrize("status", ["502", "503", "504"])
async def test_a_longer_burst_is_upstream_unavailable_with_the_status(
    rig: Rig, emulator: Emulator, status: str
) -> None:
    emulator.faults.enqueue(status, count=3, route="/v2/Flows/{Sid}")

    result = await rig.query(FLOW_AND_LIST, survey(emulator))

    error = assert_flow_failed_list_answered(result, "UPSTREAM_UNAVAILABLE")
    assert error["extensions"]["twilioStatus"] == int(status)
    assert emulator.requests[FETCH_FLOW] == 3


async def test_a_500_is_not_retried(rig: Rig, emulator: Emulator) -> None:
    emulator.faults.enqueue("500", count=3, route="/v2/Flows/{Sid}")

    result = await rig.query(FLOW_AND_LIST, survey(emulator))

    error = assert_flow_failed_list_answered(result, "UPSTREAM_UNAVAILABLE")
    assert error["extensions"]["twilioStatus"] == 500
    assert error["extensions"]["twilioCode"] == 20500
    assert emulator.requests[FETCH_FLOW] == 1


@pytest.mark.parametrize("retry_after", [0.2, None])
async def test_a_429_is_waited_out(rig: Rig, emulator: Emulator, retry_after: float | None) -> None:
    emulator.faults.enqueue("429", route="/v2/Flows/{Sid}", retry_after=retry_after)

    async with ends_at(retry_after or 0):
        result = await rig.query(FLOW_AND_LIST, survey(emulator))

    assert "errors" not in result
    assert emulator.requests[FETCH_FLOW] == 2


async def test_a_retry_after_beyond_the_deadline_fails_fast_with_the_wait(
    emulator: Emulator, emulator_url: str
) -> None:
    # Deadlines long enough that waiting for them could not pass for failing fast:
    # the call's 30 s, inside the request's 10 s.
    timeouts = Timeouts(connect=1.0, read=30.0, deadline=30.0)
    async with open_rig(emulator, emulator_url, timeouts=timeouts) as rig:
        emulator.faults.enqueue("429", count=3, route="/v2/Flows/{Sid}", retry_after=120)

        async with ends_at(0):
            result = await rig.query(FLOW_AND_LIST, survey(emulator))

    error = assert_flow_failed_list_answered(result, "RATE_LIMITED")
    assert error["extensions"]["retryAfter"] == 120
    assert error["extensions"]["twilioCode"] == 20429
    assert emulator.requests[FETCH_FLOW] == 1


@pytest.mark.parametrize("fault", ["malformed", "html"])
async def test_a_truncated_or_non_json_body_is_malformed(
    rig: Rig, emulator: Emulator, fault: str
) -> None:
    emulator.faults.enqueue(fault, count=3, route="/v2/Flows/{Sid}")

    result = await rig.query(FLOW_AND_LIST, survey(emulator))

    error = assert_flow_failed_list_answered(result, "UPSTREAM_MALFORMED_RESPONSE")
    assert "<" not in error["message"]
    assert emulator.requests[FETCH_FLOW] == 1


async def test_a_body_over_the_cap_is_malformed_and_small_ones_still_answer(
    emulator: Emulator, emulator_url: str
) -> None:
    handles = emulator.seeded_handles
    async with open_rig(emulator, emulator_url, max_response_bytes=10_000) as rig:
        result = await rig.query(
            """query($big: ID!, $small: ID!) {
                 big: flow(sid: $big) { friendlyName revisions(first: 50) { nodes { revision } } }
                 small: flow(sid: $small) { friendlyName } }""",
            {"big": handles.flow_with_many_revisions_sid, "small": handles.survey_flow_sid},
        )

    assert result["data"]["small"]["friendlyName"]
    # The flow itself is small: only its page of revisions is over the cap.
    assert result["data"]["big"]["friendlyName"]
    assert result["data"]["big"]["revisions"] is None
    assert codes(result) == ["UPSTREAM_MALFORMED_RESPONSE"]


async def test_a_client_that_hangs_up_stops_the_upstream_calls(
    rig: Rig, emulator: Emulator
) -> None:
    emulator.faults.enqueue("hang", count=5, route="/v2/Flows/{FlowSid}/Executions")
    emulator.reset_counters()

    async with httpx.AsyncClient(base_url=rig.url, timeout=0.5) as impatient:
        request = impatient.post("/graphql", json={"query": DASHBOARD})
        with pytest.raises(httpx.ReadTimeout):
            await request
    # The client closed its connection: every call of that request ends, and then
    # the operation does (the gateway counts it), so nothing more of it can call.
    await until(lambda: emulator.in_flight == 0 and rig.transport.in_flight == 0)
    await until(lambda: operations_finished(rig, 1))
    assert rig.transport.single_flight.stats.in_flight == 0

    assert rig.calls == 1 + 5, "one list of flows, five lists of executions, no steps"
    assert emulator.requests[LIST_STEPS] == 0


async def test_a_client_that_waits_gets_its_answer_by_post_or_get(rig: Rig) -> None:
    # The disconnect watch reads the request itself; the app must still see the body.
    posted = await rig.query("{ flows(first: 2) { nodes { sid } } }")
    got = await rig.http.get("/graphql", params={"query": "{ flows(first: 2) { nodes { sid } } }"})
    assert got.status_code == 200
    assert got.json() == posted


async def executions_of(emulator: Emulator, flow_sid: str) -> int:
    return len(emulator.account(emulator.account_sid).flows[flow_sid].executions)


async def test_a_create_rate_limited_is_retried_and_created_once(
    rig: Rig, emulator: Emulator
) -> None:
    flow_sid = emulator.seeded_handles.survey_flow_sid
    before = await executions_of(emulator, flow_sid)
    emulator.faults.enqueue(
        "429", method="POST", route="/v2/Flows/{FlowSid}/Executions", retry_after=0.05
    )

    result = await rig.query(CREATE, {"f": flow_sid, "to": "+15005550902"})

    sid = result["data"]["createExecution"]["sid"]
    assert emulator.requests[CREATE_EXECUTION] == 2
    assert await executions_of(emulator, flow_sid) == before + 1
    assert sid in emulator.account(emulator.account_sid).flows[flow_sid].executions


async def test_a_create_rate_limited_past_the_deadline_creates_nothing(
    rig: Rig, emulator: Emulator
) -> None:
    flow_sid = emulator.seeded_handles.survey_flow_sid
    before = await executions_of(emulator, flow_sid)
    emulator.faults.enqueue(
        "429", method="POST", route="/v2/Flows/{FlowSid}/Executions", retry_after=60
    )

    result = await rig.query(CREATE, {"f": flow_sid, "to": "+15005550903"})

    assert codes(result) == ["RATE_LIMITED"]
    assert result["errors"][0]["extensions"]["retryAfter"] == 60
    assert await executions_of(emulator, flow_sid) == before


async def test_an_upstream_that_keeps_failing_opens_the_circuit_and_is_not_called(
    emulator: Emulator, emulator_url: str
) -> None:
    policy = CircuitPolicy(min_calls=6, failure_ratio=0.5, cooldown=60)
    async with open_rig(emulator, emulator_url, circuit=policy) as rig:
        handles = emulator.seeded_handles
        two_flows = {"a": handles.survey_flow_sid, "b": handles.ivr_flow_sid}
        document = "query($a: ID!, $b: ID!) { a: flow(sid: $a) { sid } b: flow(sid: $b) { sid } }"
        emulator.faults.rate_503 = 1.0
        result = await rig.query(document, two_flows)
        assert result["data"] == {"a": None, "b": None} and rig.calls == 6
        assert rig.transport.circuit.state == "open"

        result = await rig.query(document, two_flows)

        assert codes(result) == ["UPSTREAM_UNAVAILABLE"] * 2
        assert rig.calls == 0


async def test_identical_queries_in_flight_at_once_share_the_upstream_reads(
    rig: Rig, emulator: Emulator
) -> None:
    emulator.reset_counters()
    with paused(emulator):
        queries = [
            asyncio.create_task(rig.query(FLOW_AND_LIST, survey(emulator), fresh=False))
            for _ in range(20)
        ]
        # Every query waits on one of the two reads the first one started.
        await until(lambda: shared_waiters(rig) == 20 * 2)
    results = await asyncio.gather(*queries)

    assert all("errors" not in r and r == results[0] for r in results)
    assert emulator.requests[FETCH_FLOW] == 1
    assert emulator.requests[LIST_FLOWS] == 1


async def test_random_faults_only_ever_surface_as_upstream_codes(
    rig: Rig, emulator: Emulator
) -> None:
    faults = emulator.faults
    faults.rate_503, faults.rate_500, faults.rate_malformed, faults.rate_drop = (
        0.2,
        0.05,
        0.05,
        0.05,
    )
    emulator.jitter = 0.01
    handles = emulator.seeded_handles
    flows = [handles.survey_flow_sid, handles.ivr_flow_sid, handles.reminder_flow_sid]
    # Nullable top-level fields: each fails alone, so data is always partial at worst.
    document = (
        "{ "
        + " ".join(
            f'f{n}: flow(sid: "{sid}") {{ friendlyName executions(first: 2) {{ nodes {{ sid }} }} }}'
            for n, sid in enumerate(flows)
        )
        + " }"
    )

    results = await asyncio.gather(*(rig.query(document, fresh=False) for _ in range(20)))

    seen = {code for result in results for code in codes(result)}
    # A quarter of the calls fail: the faults must have come through, and as upstream codes.
    assert seen, "no fault reached a client: the check below would prove nothing"
    assert seen <= UPSTREAM_CODES, seen
    answered = [v for result in results for v in result["data"].values() if v is not None]
    assert answered, "with most calls succeeding, some fields answer"
    await until(lambda: emulator.in_flight == 0 and rig.transport.in_flight == 0)
