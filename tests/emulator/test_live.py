"""The emulator's live mode: executions advance step by step and are told as signed webhooks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from gateway.emulator import DEMO_AUTH_TOKEN, Emulator, create_app
from gateway.emulator.live import LiveMode, LiveOptions
from tests.support import free_port, serve, until

STEP = "com.twilio.studio.flow.step.ended"
STARTED = "com.twilio.studio.flow.execution.started"
ENDED = "com.twilio.studio.flow.execution.ended"


@dataclass
class Sink:
    """A webhook sink that checks signatures with Twilio's own SDK."""

    url: str = ""
    bodies: list[Any] = field(default_factory=list)
    refused: int = 0


@pytest.fixture
def sink() -> Iterator[Sink]:
    received = Sink()
    validator = RequestValidator(DEMO_AUTH_TOKEN)

    async def receive(request: Request) -> Response:
        body = await request.body()
        signature = request.headers.get("x-twilio-signature", "")
        if not validator.validate(str(request.url), body.decode(), signature):
            received.refused += 1
            return Response(status_code=403)
        received.bodies.append(orjson.loads(body))
        return Response(status_code=204)

    app = Starlette(routes=[Route("/events", receive, methods=["POST"])])
    with serve(app) as base:
        received.url = base + "/events"
        yield received


@pytest.fixture
def emulator() -> Emulator:
    return Emulator.seeded(seed=7, flows=5, executions_per_flow=2, steps_per_execution=5)


async def run_to_end(live: LiveMode, sid: str) -> None:
    for _ in range(1100):
        if sid not in live.live:
            break
        await live.advance()
    await live.advance()


def events_of(bodies: list[Any]) -> list[dict[str, Any]]:
    return [e for body in bodies for e in (body if isinstance(body, list) else [body])]


async def test_an_execution_advances_step_by_step_and_each_change_is_a_signed_event(
    emulator: Emulator, sink: Sink
) -> None:
    live = LiveMode(emulator, LiveOptions(url=sink.url))
    sid = live.start_execution()
    execution = next(
        f.executions[sid]
        for f in emulator.account(emulator.account_sid).flows.values()
        if sid in f.executions
    )
    assert execution.status == "active" and execution.steps == []
    await live.advance()
    assert len(execution.steps) == 1
    await run_to_end(live, sid)
    await live.stop()

    assert sink.refused == 0
    assert all(isinstance(body, dict) for body in sink.bodies)  # one object per request
    events = events_of(sink.bodies)
    kinds = [e["type"] for e in events]
    assert kinds[0] == STARTED and kinds[-1] == ENDED
    assert set(kinds[1:-1]) == {STEP}
    assert execution.status == "ended"
    steps = [e["data"] for e in events if e["type"] == STEP]
    assert [s["step_sid"] for s in steps] == [s.sid for s in execution.steps]
    first = events[0]
    assert first["specversion"] == "1.0" and first["datacontenttype"] == "application/json"
    assert first["data"]["started_by"] == execution.initiated_by
    assert first["data"]["flow_revision"] == execution.flow_version
    assert first["time"].endswith("Z") and len(first["time"]) == len("2026-06-10T06:02:54.377Z")
    assert "type" not in steps[0] and "context" not in steps[0]
    assert events[-1]["data"]["status"] == "ended"


async def test_the_rest_api_shows_what_the_events_told(emulator: Emulator, sink: Sink) -> None:
    live = LiveMode(emulator, LiveOptions(url=sink.url))
    sid = live.start_execution()
    flow_sid = live.emitted[sid][0]["data"]["flow_sid"]
    await run_to_end(live, sid)
    await live.stop()
    transport = httpx.ASGITransport(app=create_app(emulator))
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as http:
        auth = (emulator.account_sid, DEMO_AUTH_TOKEN)
        steps = (await http.get(f"/v2/Flows/{flow_sid}/Executions/{sid}/Steps", auth=auth)).json()
        execution = (await http.get(f"/v2/Flows/{flow_sid}/Executions/{sid}", auth=auth)).json()
    told = [e["data"]["step_sid"] for e in live.emitted[sid] if e["type"] == STEP]
    assert [s["sid"] for s in reversed(steps["steps"])] == told  # REST lists newest first
    assert execution["status"] == "ended"


async def test_batches_duplicates_shuffles_and_forgeries_on_demand(
    emulator: Emulator, sink: Sink
) -> None:
    options = LiveOptions(url=sink.url, batch=3, duplicates=0.5, shuffle=True, forged=0.5, seed=3)
    live = LiveMode(emulator, options)
    sids = [live.start_execution() for _ in range(3)]
    for sid in sids:
        await run_to_end(live, sid)
    await live.stop()

    assert all(isinstance(body, list) for body in sink.bodies)
    assert max(len(body) for body in sink.bodies) == 3
    ids = [e["id"] for e in events_of(sink.bodies)]
    made = [e["id"] for sid in sids for e in live.emitted[sid]]
    assert set(ids) == set(made)
    assert len(ids) > len(made)  # some twice
    assert sink.refused == live.forged_sent > 0
    assert live.answers[403] == live.forged_sent


async def test_ending_an_execution_over_rest_stops_it_and_tells_its_end(
    emulator: Emulator, sink: Sink
) -> None:
    live = LiveMode(emulator, LiveOptions(url=sink.url))
    sid = live.start_execution()
    await live.advance()
    flow_sid = live.emitted[sid][0]["data"]["flow_sid"]
    transport = httpx.ASGITransport(app=create_app(emulator))
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as http:
        answer = await http.post(
            f"/v2/Flows/{flow_sid}/Executions/{sid}",
            data={"Status": "ended"},
            auth=(emulator.account_sid, DEMO_AUTH_TOKEN),
        )
    assert answer.status_code == 200
    await live.advance()
    await live.stop()
    assert sid not in live.live
    kinds = [e["type"] for e in events_of(sink.bodies)]
    assert kinds == [STARTED, STEP, ENDED]


async def test_executions_waiting_for_a_contact_go_on_from_where_they_wait(sink: Sink) -> None:
    emulator = Emulator.seeded(seed=7)
    account = emulator.account(emulator.account_sid)
    waiting = {
        sid: len(execution.steps)
        for flow in account.flows.values()
        for sid, execution in flow.executions.items()
        if execution.status == "active"
    }
    assert waiting  # the seed leaves some executions waiting
    live = LiveMode(emulator, LiveOptions(url=sink.url))
    assert sorted(live.adopt_active()) == sorted(waiting)
    while live.live:
        await live.advance()
    await live.stop()
    for sid, before in waiting.items():
        flow_sid = live.emitted[sid][0]["data"]["flow_sid"]
        execution = account.execution(flow_sid, sid)
        assert execution is not None and execution.status == "ended"
        told = [e["data"]["step_sid"] for e in live.emitted[sid] if e["type"] == STEP]
        assert [s.sid for s in execution.steps[before:]] == told
        if told:  # the first new step leaves the widget the execution waited at
            first = execution.steps[before]
            assert first.transitioned_from == execution.steps[before - 1].transitioned_to
        assert live.emitted[sid][-1]["type"] == ENDED


def answering(statuses: list[int], received: list[Any]) -> Starlette:
    """A sink that answers each request with the next of `statuses` (the last for ever)."""

    async def receive(request: Request) -> Response:
        received.append(orjson.loads(await request.body()))
        status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
        return Response(status_code=status)

    return Starlette(routes=[Route("/events", receive, methods=["POST"])])


async def test_a_delivery_nobody_takes_is_sent_again_until_a_sink_takes_it(
    emulator: Emulator,
) -> None:
    # A replica restarting: nothing listens on its port for a while, then it does.
    port = free_port()
    live = LiveMode(emulator, LiveOptions(url=f"http://127.0.0.1:{port}/events", time_scale=0.001))
    sid = live.start_execution()
    assert await live.deliver(live.emitted[sid]) == 0  # refused: nothing listens
    await until(lambda: live.retries >= 3)
    received: list[Any] = []
    with serve(answering([503, 202], received), port=port):
        await until(lambda: not live.retrying)
    await live.stop()

    assert received == [live.emitted[sid][0]] * 2  # a 503, then taken
    assert live.answers == {202: 1} and live.given_up == 0


async def test_a_delivery_is_given_up_after_twilios_four_hours_of_backoff(
    emulator: Emulator,
) -> None:
    received: list[Any] = []
    with serve(answering([503], received)) as base:
        # Twilio's 4 hours in about a third of a second.
        options = LiveOptions(url=base + "/events", time_scale=0.3 / (4 * 3600))
        live = LiveMode(emulator, options)
        sid = live.start_execution()
        assert await live.deliver(live.emitted[sid]) == 503
        await until(lambda: live.given_up == 1)
        await live.stop()
    # Waits that double from 5 s to 20 min, with jitter, fit 19 to 31 tries in 4 h.
    assert 19 <= live.retries <= 31
    assert len(received) == live.retries + 1
    assert live.answers == {503: 1}


async def test_an_answer_about_the_delivery_itself_is_never_retried(emulator: Emulator) -> None:
    received: list[Any] = []
    with serve(answering([400], received)) as base:
        live = LiveMode(emulator, LiveOptions(url=base + "/events", time_scale=0.001))
        sid = live.start_execution()
        assert await live.deliver(live.emitted[sid]) == 400
        assert not live.retrying
        await live.stop()
    assert len(received) == 1 and live.retries == 0 and live.answers == {400: 1}
