"""A mutation through one replica is seen through every other, at once."""

from __future__ import annotations

from gateway.cache import new_key
from gateway.emulator import Emulator
from tests.support import RedisServer, codes, replicas

EXECUTION = """query($f: ID!, $e: ID!) { execution(flowSid: $f, sid: $e) {
  sid status context flowRevision { revision } steps { nodes { name } } } }"""


def test_a_deleted_execution_is_gone_from_every_replica(
    emulator: Emulator, upstream: str, redis_server: RedisServer
) -> None:
    flow_sid, execution_sid = emulator.seeded_handles.ended_execution
    variables = {"f": flow_sid, "e": execution_sid}
    keys = {"STUDIO_GATEWAY_CACHE_ENCRYPTION_KEYS": new_key()}
    with replicas(2, upstream, redis_server.url, **keys) as group:
        group.data(0, EXECUTION, variables)
        group.data(1, EXECUTION, variables)  # from Redis, now in the second's process too
        emulator.reset_counters()
        assert group.data(1, EXECUTION, variables)["execution"]["sid"] == execution_sid
        assert emulator.total_requests == 0
        group.data(
            0, "mutation($f: ID!, $e: ID!) { deleteExecution(flowSid: $f, sid: $e) }", variables
        )
        result = group.query(1, EXECUTION, variables)
        assert result["data"]["execution"] is None
        assert codes(result) == ["NOT_FOUND"]


def test_a_deleted_flow_takes_its_cached_executions_with_it_everywhere(
    emulator: Emulator, upstream: str, redis_server: RedisServer
) -> None:
    # No key: executions stay in each process, and still go on a deletion anywhere.
    flow_sid, execution_sid = emulator.seeded_handles.ended_execution
    variables = {"f": flow_sid, "e": execution_sid}
    with replicas(2, upstream, redis_server.url) as group:
        for index in (0, 1):
            group.data(index, EXECUTION, variables)
        emulator.reset_counters()
        group.data(1, EXECUTION, variables)
        assert emulator.total_requests == 0
        group.data(0, "mutation($f: ID!) { deleteFlow(sid: $f) }", {"f": flow_sid})
        result = group.query(1, EXECUTION, variables)
        assert result["data"]["execution"] is None
        assert codes(result) == ["NOT_FOUND"]
    assert not any(b":rev:" + flow_sid.encode() in key for key in redis_server.dump())
