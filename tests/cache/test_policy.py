"""The cache keeps only what cannot change, per account, in memory or in Redis."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import pytest

from gateway.cache import Cache, MemoryCache, RedisCache
from gateway.emulator import Emulator
from tests.graphql.conftest import Gateway, open_gateway

DETAIL = """query($f: ID!, $e: ID!) { execution(flowSid: $f, sid: $e) {
  status context flowRevision { revision definition }
  steps { nodes { sid name context toWidget { name } } } } }"""


@pytest.fixture(params=["memory", "redis"])
def cache(request: pytest.FixtureRequest) -> Cache:
    if request.param == "memory":
        return MemoryCache()
    remote: RedisCache = request.getfixturevalue("remote")
    return remote


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
