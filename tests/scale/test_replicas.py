"""Replicas on one Redis: one fetch serves them all, and personal data is sealed there."""

from __future__ import annotations

from gateway.cache import new_key
from gateway.emulator import Emulator
from tests.support import RedisServer, Replicas, replicas, seeded_pii

DETAIL = """query($f: ID!, $e: ID!) { execution(flowSid: $f, sid: $e) {
  status contactChannelAddress context flowRevision { revision definition }
  steps { nodes { sid name context } } } }"""

RECENT = """query($f: ID!) { flow(sid: $f) { executions(first: 8, status: ENDED) { nodes {
  sid contactChannelAddress context steps { nodes { name context } } } } } }"""


def ended(emulator: Emulator) -> dict[str, str]:
    flow_sid, execution_sid = emulator.seeded_handles.ended_execution
    return {"f": flow_sid, "e": execution_sid}


def warm(group: Replicas, emulator: Emulator, index: int = 0) -> dict[str, object]:
    """Read an ended execution in detail through one replica; what it answered."""
    return group.data(index, DETAIL, ended(emulator))


def test_a_second_replica_serves_what_the_first_fetched_without_calling_twilio(
    emulator: Emulator, upstream: str, redis_server: RedisServer
) -> None:
    keys = {"STUDIO_GATEWAY_CACHE_ENCRYPTION_KEYS": new_key()}
    with replicas(2, upstream, redis_server.url, **keys) as group:
        first = warm(group, emulator, 0)
        assert first["execution"]["context"] and first["execution"]["steps"]["nodes"]
        assert emulator.total_requests >= 4
        emulator.reset_counters()
        assert warm(group, emulator, 1) == first
        assert emulator.total_requests == 0, emulator.requests


def test_no_personal_data_is_in_redis_in_plain_text(
    emulator: Emulator, upstream: str, redis_server: RedisServer
) -> None:
    keys = {"STUDIO_GATEWAY_CACHE_ENCRYPTION_KEYS": new_key()}
    with replicas(2, upstream, redis_server.url, **keys) as group:
        for flow_sid in list(emulator.account(emulator.account_sid).flows)[:3]:
            group.data(0, RECENT, {"f": flow_sid})
            group.data(1, RECENT, {"f": flow_sid})
        warm(group, emulator, 1)
    stored = redis_server.dump()
    assert len(stored) > 20  # executions, steps and contexts went to Redis
    everything = b"\n".join(k + b" " + v for k, v in stored.items())
    leaked = sorted(v for v in seeded_pii() if v.encode() in everything)
    assert not leaked, f"personal data in Redis in plain text: {leaked[:5]}"


def test_without_a_key_personal_data_never_reaches_redis(
    emulator: Emulator, upstream: str, redis_server: RedisServer
) -> None:
    with replicas(1, upstream, redis_server.url) as group:
        warm(group, emulator)
    stored = redis_server.dump()
    # The revision (no one's data) is shared; nothing of the execution is.
    assert any(b":rev:" in key for key in stored)
    assert not any(b":exec:" in k or b":ctx:" in k or b":step" in k for k in stored)


def test_a_rotated_key_still_reads_what_the_old_one_sealed(
    emulator: Emulator, upstream: str, redis_server: RedisServer
) -> None:
    old, new = new_key(), new_key()
    with replicas(1, upstream, redis_server.url, STUDIO_GATEWAY_CACHE_ENCRYPTION_KEYS=old) as group:
        before = warm(group, emulator)
    emulator.reset_counters()
    with replicas(
        1, upstream, redis_server.url, STUDIO_GATEWAY_CACHE_ENCRYPTION_KEYS=f"{new},{old}"
    ) as group:
        assert warm(group, emulator) == before
        assert emulator.total_requests == 0, emulator.requests
    # With the old key removed, old entries are misses, fetched again: still the same answer.
    with replicas(1, upstream, redis_server.url, STUDIO_GATEWAY_CACHE_ENCRYPTION_KEYS=new) as group:
        emulator.reset_counters()
        assert warm(group, emulator) == before
        assert emulator.total_requests > 0
