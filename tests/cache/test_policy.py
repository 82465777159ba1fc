"""The cache keeps only what cannot change, per account, in memory or in Redis."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from gateway.cache import Cache, LayeredCache, MemoryCache
from gateway.emulator import Emulator
from gateway.emulator import create_app as create_emulator_app
from gateway.keeping import READ_AHEAD_MARGIN, settled
from gateway.loaders import Loaders
from gateway.studio import (
    ClientConfig,
    Credentials,
    Execution,
    ExecutionStatus,
    StudioClient,
    Transport,
)
from tests.support import FAST_RETRY, Gateway, open_gateway

DETAIL = """query($f: ID!, $e: ID!) { execution(flowSid: $f, sid: $e) {
  status context flowRevision { revision definition }
  steps { nodes { sid name context toWidget { name } } } } }"""


async def gateway_with(emulator: Emulator, cache: Cache) -> AsyncIterator[Gateway]:
    async for gw in open_gateway(emulator, cache=cache, cache_ttl=60):
        yield gw


async def test_an_ended_execution_is_served_from_the_warm_cache(
    emulator: Emulator, cache: Cache
) -> None:
    ended = emulator.seeded_handles.ended_execution
    variables = {"f": ended.flow_sid, "e": ended.execution_sid}
    async for gw in gateway_with(emulator, cache):
        cold = await gw.data(DETAIL, variables)
        assert cold["execution"]["status"] == "ENDED"
        assert gw.total_calls >= 4
        warm = await gw.data(DETAIL, variables)
        assert warm == cold
        assert gw.total_calls == 0, gw.calls


async def test_an_active_execution_is_never_cached_but_its_revision_is(
    emulator: Emulator, cache: Cache
) -> None:
    active = emulator.seeded_handles.active_execution
    variables = {"f": active.flow_sid, "e": active.execution_sid}
    async for gw in gateway_with(emulator, cache):
        first = await gw.data(DETAIL, variables)
        steps = len(first["execution"]["steps"]["nodes"])
        assert first["execution"]["status"] == "ACTIVE" and steps
        await gw.data(DETAIL, variables)
        assert gw.calls == Counter(
            {
                "GET /v2/Flows/{FlowSid}/Executions/{Sid}": 1,
                "GET /v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Context": 1,
                "GET /v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Steps": 1,
                "GET /v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Steps/{StepSid}/Context": steps,
            }
        )


async def test_deleting_an_execution_through_the_gateway_evicts_it(
    emulator: Emulator, cache: Cache
) -> None:
    ended = emulator.seeded_handles.ended_execution
    variables = {"f": ended.flow_sid, "e": ended.execution_sid}
    async for gw in gateway_with(emulator, cache):
        await gw.data(DETAIL, variables)
        await gw.data(
            "mutation($f: ID!, $e: ID!) { deleteExecution(flowSid: $f, sid: $e) }", variables
        )
        result = await gw.query(
            "query($f: ID!, $e: ID!) { execution(flowSid: $f, sid: $e) { sid } }", variables
        )
        assert [e["extensions"]["code"] for e in result["errors"]] == ["NOT_FOUND"]


async def test_cached_data_never_crosses_accounts(emulator: Emulator, cache: Cache) -> None:
    ended = emulator.seeded_handles.ended_execution
    variables = {"f": ended.flow_sid, "e": ended.execution_sid}
    other_sid, other_token = "AC" + "ab" * 16, "other-account-token"
    emulator.add_account(other_sid, other_token, flows=0)
    async for gw in gateway_with(emulator, cache):
        await gw.data(DETAIL, variables)
    async for other in open_gateway(
        emulator,
        cache=cache,
        cache_ttl=60,
        twilio_account_sid=other_sid,
        twilio_auth_token=other_token,
    ):
        result = await other.query(DETAIL, variables)
        assert result["data"]["execution"] is None
        assert [e["extensions"]["code"] for e in result["errors"]] == ["NOT_FOUND"]
        assert other.total_calls == 1


class SlowStepContexts(httpx.AsyncBaseTransport):
    """The emulator, except that a step context's answer, once Studio has given
    it, waits for `release` before it reaches the client: a read slow to return."""

    def __init__(self, emulator: Emulator) -> None:
        self.inner = httpx.ASGITransport(app=create_emulator_app(emulator))
        self.answered = asyncio.Event()
        self.release = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if "/Steps/" in request.url.path and request.url.path.endswith("/Context"):
            await response.aread()
            self.answered.set()
            await self.release.wait()
        return response


async def test_a_step_context_read_before_its_execution_ended_is_never_kept(
    emulator: Emulator, credentials: Credentials
) -> None:
    # The context was read while the execution ran; by the time it arrives the
    # request has seen the execution ended. What it read is not final.
    flow_sid, sid, _, _ = emulator.seeded_handles.active_execution
    slow = SlowStepContexts(emulator)
    config = ClientConfig(base_url="http://emulator.test", retry=FAST_RETRY)
    client = StudioClient(
        Transport(config, http=httpx.AsyncClient(transport=slow, base_url=config.base_url)),
        credentials,
    )
    cache = LayeredCache(MemoryCache(), ttl=60)
    (step,) = (await client.list_execution_steps(flow_sid, sid)).items
    key = (flow_sid, sid, step.sid)

    loaders = Loaders(client, cache)
    read = loaders.step_context.load(key)  # dispatched at the next turn of the loop
    await slow.answered.wait()
    await client.update_execution(flow_sid, sid, ExecutionStatus.ENDED)
    assert (await loaders.execution.load((flow_sid, sid))).status is ExecutionStatus.ENDED
    slow.release.set()
    await read

    assert not loaders.reads.only_immutable
    emulator.reset_counters()
    await Loaders(client, cache).step_context.load(key)
    assert emulator.total_requests == 1  # fetched again: nothing was kept
    await client.aclose()


@pytest.mark.parametrize(
    ("ago", "final"),
    [
        (timedelta(0), False),
        (READ_AHEAD_MARGIN - timedelta(seconds=1), False),
        (READ_AHEAD_MARGIN, True),
        (timedelta(days=3), True),
        (None, True),
    ],
    ids=["just now", "inside the margin", "at the margin", "days ago", "no date_updated"],
)
def test_a_read_after_an_execution_was_seen_ended_is_final_once_the_margin_has_passed(
    ago: timedelta | None, final: bool
) -> None:
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    record = {
        "sid": "FN" + "1" * 32,
        "flow_sid": "FW" + "2" * 32,
        "status": "ended",
        "date_updated": None if ago is None else (now - ago).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    assert settled(Execution.from_json(record), now) is final
    # A running execution's children are never final.
    assert not settled(Execution.from_json({**record, "status": "active"}), now)
