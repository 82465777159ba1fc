"""Automatic persisted queries (Apollo APQ) and the safelist of trusted documents."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from gateway.cache import RedisCache
from gateway.emulator import Emulator
from tests.security.conftest import codes, secured

QUERY = "query Flows { flows(first: 2) { nodes { sid } } }"
HASH = hashlib.sha256(QUERY.encode()).hexdigest()


def persisted(digest: str = HASH) -> dict:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


async def test_the_apq_round_trip(emulator: Emulator) -> None:
    async with secured(emulator) as http:
        emulator.reset_counters()
        first = (await http.post("/graphql", json={"extensions": persisted()})).json()
        assert first["errors"][0]["message"] == "PersistedQueryNotFound"
        assert codes(first) == ["PERSISTED_QUERY_NOT_FOUND"]
        assert emulator.total_requests == 0
        registered = (
            await http.post("/graphql", json={"query": QUERY, "extensions": persisted()})
        ).json()
        by_hash = (await http.post("/graphql", json={"extensions": persisted()})).json()
        by_get = (await http.get("/graphql", params={"extensions": json.dumps(persisted())})).json()
    assert registered["data"] == by_hash["data"] == by_get["data"]
    assert by_hash["data"]["flows"]["nodes"]


async def test_a_hash_that_does_not_match_its_query_is_refused(emulator: Emulator) -> None:
    async with secured(emulator) as http:
        body = (
            await http.post("/graphql", json={"query": QUERY, "extensions": persisted("0" * 64)})
        ).json()
    assert codes(body) == ["BAD_USER_INPUT"]


async def test_apq_lives_in_redis_across_replicas(emulator: Emulator) -> None:
    url = "redis://127.0.0.1:6379/0"
    async with secured(emulator, redis_url=url, cache_ttl=0) as one:
        await one.post("/graphql", json={"query": QUERY, "extensions": persisted()})
    async with secured(emulator, redis_url=url, cache_ttl=0) as two:
        body = (await two.post("/graphql", json={"extensions": persisted()})).json()
    assert body["data"]["flows"]["nodes"]
    store = RedisCache(url)
    await store.delete(f"apq:{HASH}")
    await store.aclose()


async def test_with_a_safelist_only_its_operations_run(emulator: Emulator, tmp_path: Path) -> None:
    manifest = tmp_path / "operations.json"
    manifest.write_text(json.dumps({HASH: QUERY}))
    async with secured(emulator, safelist_file=str(manifest)) as http:
        emulator.reset_counters()
        other = (
            await http.post("/graphql", json={"query": "{ flows { nodes { sid friendlyName } } }"})
        ).json()
        assert codes(other) == ["PERSISTED_QUERY_NOT_ALLOWED"]
        assert emulator.total_requests == 0
        by_hash = (await http.post("/graphql", json={"extensions": persisted()})).json()
        by_text = (await http.post("/graphql", json={"query": QUERY})).json()
    assert by_hash["data"]["flows"]["nodes"] and by_text["data"] == by_hash["data"]
