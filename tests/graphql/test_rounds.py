"""Dependent rounds: what an answer waits for upstream, one round trip after another.

Each test records when every upstream call starts and ends (the order, never
the time) and counts the rounds: a call is one round deeper than the deepest
call that had answered before it started. The emulator adds a latency, so calls
made side by side are in flight together (over the ASGI transport, a call that
never waits would answer before the next one starts).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.emulator import DEMO_ACCOUNT_SID, Emulator
from gateway.emulator import create_app as emulator_app
from gateway.emulator.progress import end_execution, take_step
from gateway.emulator.records import ExecutionRecord
from gateway.keeping import READ_AHEAD_MARGIN
from gateway.studio import ClientConfig, Transport
from gateway.studio.wire import HttpxWire, WireConfig
from tests.support import asgi_client, ended_ago, gateway_settings, paused, until

EXECUTION = "GET /v2/Flows/{FlowSid}/Executions/{Sid}"
EXECUTION_CONTEXT = "GET /v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Context"
STEPS = "GET /v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Steps"
STEP = "GET /v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Steps/{Sid}"
STEP_CONTEXT = "GET /v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Steps/{StepSid}/Context"

Q2 = """query($f: ID!, $e: ID!) { execution(flowSid: $f, sid: $e) {
  sid status contactChannelAddress
  steps(first: 50) { nodes { sid name context } } } }"""


@dataclass
class Call:
    path: str
    started: int
    ended: int | None = None


@dataclass
class Recorder(httpx.AsyncBaseTransport):
    """The emulator over httpx's ASGI transport, noting where each call starts and ends.

    A call whose path ends with `held` waits, sent but unanswered, until `release`.
    """

    inner: httpx.AsyncBaseTransport
    calls: list[Call] = field(default_factory=list)
    clock: int = 0
    held: str | None = None
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        call = Call(request.url.path, self._tick())
        self.calls.append(call)
        if self.held is not None and call.path.endswith(self.held):
            await self.release.wait()
        response = await self.inner.handle_async_request(request)
        await response.aread()
        call.ended = self._tick()
        return response

    def _tick(self) -> int:
        self.clock += 1
        return self.clock

    def rounds(self) -> int:
        """The longest chain of calls each started after the one before it had answered."""
        depth: dict[int, int] = {}
        for index, call in enumerate(self.calls):  # in the order they started
            before = [
                depth[i]
                for i, other in enumerate(self.calls[:index])
                if other.ended is not None and other.ended < call.started
            ]
            depth[index] = 1 + max(before, default=0)
        return max(depth.values(), default=0)


@contextlib.asynccontextmanager
async def recording(
    emulator: Emulator, **settings: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, Recorder]]:
    """The gateway over a `Recorder`, its server credentials already accepted by Twilio
    (a read ahead of an answer is only for credentials Twilio has accepted)."""
    emulator.latency = 0.02
    recorder = Recorder(httpx.ASGITransport(app=emulator_app(emulator)))
    config = ClientConfig(base_url="http://emulator.test")
    wire = HttpxWire(
        httpx.AsyncClient(transport=recorder, base_url=config.base_url), WireConfig.of(config)
    )
    upstream = Transport(config, wire=wire)
    app = create_app(gateway_settings(**settings), transport=upstream)
    async with asgi_client(app, base_url="http://gateway.test") as http:
        await post(http, "{ flows(first: 1) { nodes { sid } } }", {})
        recorder.calls.clear()
        emulator.reset_counters()
        yield http, recorder


@pytest.fixture(params=[0, 60], ids=["no cache", "shared cache"])
async def recorded(
    emulator: Emulator, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[httpx.AsyncClient, Recorder]]:
    async with recording(emulator, cache_ttl=request.param) as recorded:
        yield recorded


@pytest.fixture
async def cached(emulator: Emulator) -> AsyncIterator[tuple[httpx.AsyncClient, Recorder]]:
    async with recording(emulator, cache_ttl=60) as recorded:
        yield recorded


def calls(emulator: Emulator) -> Counter[str]:
    return Counter({k: v for k, v in emulator.requests.items() if v})


async def post(http: httpx.AsyncClient, document: str, variables: dict[str, Any]) -> Any:
    response = await http.post("/graphql", json={"query": document, "variables": variables})
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


async def two_in_flight(
    http: httpx.AsyncClient, emulator: Emulator, document: str, variables: dict[str, Any]
) -> Any:
    """Run an operation whose first two calls must be in flight together; its data."""
    with paused(emulator):
        answer = asyncio.ensure_future(post(http, document, variables))
        await until(lambda: emulator.in_flight == 2)
    return await answer


async def test_an_execution_its_steps_and_their_contexts_take_two_rounds(
    recorded: tuple[httpx.AsyncClient, Recorder], emulator: Emulator
) -> None:
    http, recorder = recorded
    flow_sid, sid = emulator.seeded_handles.ended_execution
    emulator.reset_counters()
    recorder.held = f"/Executions/{sid}"  # the execution's own answer is slow to come
    answer = asyncio.ensure_future(post(http, Q2, {"f": flow_sid, "e": sid}))
    # The steps list went out beside the execution, and each step's context as
    # soon as the steps page was in: none of them waited for the execution.
    await until(lambda: calls(emulator)[STEP_CONTEXT] > 0)
    (execution,) = [c for c in recorder.calls if c.path.endswith(f"/Executions/{sid}")]
    assert execution.ended is None
    recorder.release.set()
    data = await answer
    steps = data["execution"]["steps"]["nodes"]
    assert steps and all(step["context"] is not None for step in steps)
    assert calls(emulator) == Counter({EXECUTION: 1, STEPS: 1, STEP_CONTEXT: len(steps)})
    assert recorder.rounds() == 2


async def test_an_executions_context_goes_out_beside_the_execution(
    recorded: tuple[httpx.AsyncClient, Recorder], emulator: Emulator
) -> None:
    http, recorder = recorded
    flow_sid, sid = emulator.seeded_handles.ended_execution
    emulator.reset_counters()
    data = await two_in_flight(
        http,
        emulator,
        "query($f: ID!, $e: ID!) { execution(flowSid: $f, sid: $e) { status context } }",
        {"f": flow_sid, "e": sid},
    )
    assert data["execution"]["context"] is not None
    assert calls(emulator) == Counter({EXECUTION: 1, EXECUTION_CONTEXT: 1})
    assert recorder.rounds() == 1


async def test_a_steps_context_goes_out_beside_the_step(
    recorded: tuple[httpx.AsyncClient, Recorder], emulator: Emulator
) -> None:
    http, recorder = recorded
    flow_sid, sid = emulator.seeded_handles.ended_execution
    first = await post(
        http,
        "query($f: ID!, $e: ID!) { execution(flowSid: $f, sid: $e) { steps(first: 1) { nodes { sid } } } }",
        {"f": flow_sid, "e": sid},
    )
    step_sid = first["execution"]["steps"]["nodes"][0]["sid"]
    emulator.reset_counters()
    recorder.calls.clear()
    data = await two_in_flight(
        http,
        emulator,
        """query($f: ID!, $e: ID!, $s: ID!) {
             executionStep(flowSid: $f, executionSid: $e, sid: $s) { name context } }""",
        {"f": flow_sid, "e": sid, "s": step_sid},
    )
    assert data["executionStep"]["context"] is not None
    assert calls(emulator) == Counter({STEP: 1, STEP_CONTEXT: 1})
    assert recorder.rounds() == 1


@pytest.mark.parametrize(
    "ago",
    [timedelta(days=1), READ_AHEAD_MARGIN + timedelta(seconds=5)],
    ids=["a day ago", "just past the margin"],
)
async def test_steps_read_ahead_of_an_execution_that_ended_long_before_are_kept_at_once(
    cached: tuple[httpx.AsyncClient, Recorder], emulator: Emulator, ago: timedelta
) -> None:
    http, recorder = cached
    variables, steps, first = await ended_read_ahead(cached, emulator, ago)
    assert len(first["execution"]["steps"]["nodes"]) == steps > 0
    assert calls(emulator) == Counter({EXECUTION: 1, STEPS: 1, STEP_CONTEXT: steps})
    assert recorder.rounds() == 2
    # Read before it was known ended, but after it had ended by its own record:
    # complete, so kept with it.
    emulator.reset_counters()
    assert await post(http, Q2, variables) == first
    assert emulator.total_requests == 0


@pytest.mark.parametrize(
    "ago",
    [timedelta(0), READ_AHEAD_MARGIN - timedelta(seconds=5)],
    ids=["just now", "within the margin"],
)
async def test_steps_of_an_execution_that_just_ended_are_not_kept_within_the_margin(
    cached: tuple[httpx.AsyncClient, Recorder], emulator: Emulator, ago: timedelta
) -> None:
    http, recorder = cached
    variables, steps, first = await ended_read_ahead(cached, emulator, ago)
    assert calls(emulator) == Counter({EXECUTION: 1, STEPS: 1, STEP_CONTEXT: steps})
    assert recorder.rounds() == 2
    # Read ahead: nothing proves its steps were all written when they were read,
    # so they served that answer alone. The execution itself was kept, so the
    # next answer knows it ended before reading its steps (no read ahead: two
    # rounds); but it ended within the margin, when Studio may still be writing
    # its step log, so they are not kept either.
    for _ in range(2):
        emulator.reset_counters()
        recorder.calls.clear()
        again = await post(http, Q2, variables)
        assert calls(emulator) == Counter({STEPS: 1, STEP_CONTEXT: steps})
        assert recorder.rounds() == 2
        assert again == first


async def test_steps_read_ahead_of_an_execution_without_date_updated_are_kept_once_it_is_seen_ended(
    cached: tuple[httpx.AsyncClient, Recorder], emulator: Emulator
) -> None:
    http, recorder = cached
    variables, steps, first = await ended_read_ahead(cached, emulator, None)
    assert calls(emulator) == Counter({EXECUTION: 1, STEPS: 1, STEP_CONTEXT: steps})
    # A read ahead cannot tell when it ended: that answer alone. Seen ended before
    # the next read of its steps starts, the status is all there is: kept.
    emulator.reset_counters()
    recorder.calls.clear()
    second = await post(http, Q2, variables)
    assert calls(emulator) == Counter({STEPS: 1, STEP_CONTEXT: steps})
    assert recorder.rounds() == 2
    emulator.reset_counters()
    third = await post(http, Q2, variables)
    assert emulator.total_requests == 0
    assert first == second == third


async def test_steps_read_ahead_of_an_execution_that_ends_meanwhile_are_never_kept(
    cached: tuple[httpx.AsyncClient, Recorder], emulator: Emulator
) -> None:
    http, recorder = cached
    flow_sid, sid, *_ = emulator.seeded_handles.active_execution
    variables = {"f": flow_sid, "e": sid}
    running = step_count(emulator, flow_sid, sid)
    assert running > 0

    def last_step_and_end() -> None:
        take_step(emulator, flow_sid, sid)
        end_execution(emulator, flow_sid, sid)

    data = await children_first(http, recorder, running, variables, meanwhile=last_step_and_end)
    assert data["execution"]["status"] == "ENDED"
    assert len(data["execution"]["steps"]["nodes"]) == running  # read while it ran
    emulator.reset_counters()
    again = await post(http, Q2, variables)
    # The execution was kept (it had ended when it was read); its steps were not,
    # and, as it ended just now, they are not kept on the next reads either.
    assert calls(emulator) == Counter({STEPS: 1, STEP_CONTEXT: running + 1})
    assert len(again["execution"]["steps"]["nodes"]) == running + 1
    emulator.reset_counters()
    assert await post(http, Q2, variables) == again
    assert calls(emulator) == Counter({STEPS: 1, STEP_CONTEXT: running + 1})


async def ended_read_ahead(
    cached: tuple[httpx.AsyncClient, Recorder], emulator: Emulator, ago: timedelta | None
) -> tuple[dict[str, Any], int, Any]:
    """Q2 on the seeded ended execution, said to have ended `ago` (None: no
    `date_updated`), its steps read ahead of its own answer: the variables, its
    step count and the data."""
    http, recorder = cached
    flow_sid, sid = emulator.seeded_handles.ended_execution
    if ago is None:
        execution_record(emulator, flow_sid, sid).date_updated = None
    else:
        ended_ago(emulator, flow_sid, sid, ago)
    variables = {"f": flow_sid, "e": sid}
    steps = step_count(emulator, flow_sid, sid)
    return variables, steps, await children_first(http, recorder, steps, variables)


async def children_first(
    http: httpx.AsyncClient,
    recorder: Recorder,
    steps: int,
    variables: dict[str, Any],
    meanwhile: Callable[[], None] = lambda: None,
) -> Any:
    """Q2 with the execution's own answer held until its steps and their contexts
    are answered; `meanwhile` runs then, before the execution is answered."""
    recorder.held = f"/Executions/{variables['e']}"
    answer = asyncio.ensure_future(post(http, Q2, variables))
    await until(lambda: ended(recorder, "/Steps") == 1 and ended(recorder, "/Context") == steps)
    meanwhile()
    recorder.release.set()
    data = await answer
    recorder.held = None
    return data


def execution_record(emulator: Emulator, flow_sid: str, sid: str) -> ExecutionRecord:
    return emulator.account(DEMO_ACCOUNT_SID).flows[flow_sid].executions[sid]


def step_count(emulator: Emulator, flow_sid: str, sid: str) -> int:
    return len(execution_record(emulator, flow_sid, sid).steps)


def ended(recorder: Recorder, suffix: str) -> int:
    """Calls to paths ending with `suffix` that have been answered."""
    return sum(1 for c in recorder.calls if c.path.endswith(suffix) and c.ended is not None)
