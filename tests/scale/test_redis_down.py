"""Redis slow or gone: every request still answers; when it is back it is used again."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import httpx

from gateway.cache import new_key
from gateway.emulator import Emulator
from tests.support import RedisServer, Replicas, replicas, seeded_pii

DETAIL = """query($f: ID!, $e: ID!) { execution(flowSid: $f, sid: $e) {
  status context flowRevision { revision } steps { nodes { name context } } } }"""
FLOWS = "{ flows { nodes { sid friendlyName } } }"
CREATE = """mutation($f: ID!, $to: String!) {
  createExecution(flowSid: $f, to: $to, from: "+14155550100") { sid } }"""


def ended(emulator: Emulator, index: int) -> dict[str, str]:
    """The `index`-th ended execution of the seeded account."""
    executions = [
        (flow.sid, e.sid)
        for flow in emulator.account(emulator.account_sid).flows.values()
        for e in flow.executions.values()
        if e.status == "ended"
    ]
    flow_sid, execution_sid = executions[index]
    return {"f": flow_sid, "e": execution_sid}


def readiness(group: Replicas, index: int) -> dict[str, Any]:
    response = httpx.get(f"{group.served[index].url}/readyz", timeout=10)
    assert response.status_code == 200  # Redis is not required: still ready
    body: dict[str, Any] = response.json()
    return body


def redis_up(group: Replicas, index: int) -> str:
    metrics = httpx.get(f"{group.served[index].url}/metrics", timeout=10).text
    return next(line for line in metrics.splitlines() if line.startswith("studio_gateway_redis_up"))


def everything_answers(group: Replicas, emulator: Emulator, round_: int) -> None:
    flow_sid = emulator.seeded_handles.survey_flow_sid
    for index in (0, 1):
        group.data(index, DETAIL, ended(emulator, 0))
        group.data(index, DETAIL, ended(emulator, 1 + round_ * 2 + index))
        group.data(index, FLOWS)
        group.data(index, CREATE, {"f": flow_sid, "to": f"+1415777{round_:02d}{index:02d}"})


def wait_for(condition: Any, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true"
        time.sleep(0.1)


def test_redis_killed_mid_run_costs_no_client_an_error_and_is_used_again_when_back(
    emulator: Emulator, upstream: str, redis_server: RedisServer
) -> None:
    keys = {"STUDIO_GATEWAY_CACHE_ENCRYPTION_KEYS": new_key()}
    with replicas(2, upstream, redis_server.url, **keys) as group:
        everything_answers(group, emulator, 0)
        redis_server.kill()
        for round_ in (1, 2):
            everything_answers(group, emulator, round_)  # each asserts no error
        for index in (0, 1):
            body = readiness(group, index)
            assert body["checks"]["redis"] == "unreachable"
            assert body["redis"]["state"] == "down"
            assert redis_url_free(body, redis_server)
        wait_for(lambda: redis_up(group, 0).endswith(" 0.0"))

        redis_server.start()
        for index in (0, 1):
            wait_for(lambda i=index: readiness(group, i)["checks"]["redis"] == "ok")
        wait_for(lambda: redis_up(group, 1).endswith(" 1.0"))
        # Used again, without a restart: what one replica fetches, the other is served.
        fresh = ended(emulator, 20)
        group.data(0, DETAIL, fresh)
        emulator.reset_counters()
        group.data(1, DETAIL, fresh)
        assert emulator.total_requests == 0, emulator.requests
        # Through all of it, no log line held the key or anybody's data.
        logs = "".join(served.log() for served in group.served)
        assert "Redis is unreachable" in logs
        secrets = {keys["STUDIO_GATEWAY_CACHE_ENCRYPTION_KEYS"], *seeded_pii()}
        assert not [value for value in secrets if value in logs]


def test_a_redis_that_stops_answering_delays_a_request_by_no_more_than_its_timeout(
    emulator: Emulator, upstream: str, redis_server: RedisServer
) -> None:
    with replicas(2, upstream, redis_server.url, STUDIO_GATEWAY_REDIS_TIMEOUT="0.25") as group:
        everything_answers(group, emulator, 0)
        assert redis_server.process is not None
        os.kill(redis_server.process.pid, signal.SIGSTOP)
        try:
            for round_ in (1, 2):
                started = time.monotonic()
                everything_answers(group, emulator, round_)
                # 8 operations; a create may wait its CREATE_WAIT (2 s) for Redis's window.
                assert time.monotonic() - started < 15
            assert readiness(group, 0)["checks"]["redis"] == "unreachable"
        finally:
            os.kill(redis_server.process.pid, signal.SIGCONT)
        wait_for(lambda: readiness(group, 1)["checks"]["redis"] == "ok")


def redis_url_free(body: dict[str, Any], redis_server: RedisServer) -> bool:
    return str(redis_server.port) not in str(body)
