"""Automatic persisted queries (Apollo APQ) and the safelist of trusted documents."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as redis

from gateway.cache import MemoryCache
from gateway.emulator import Emulator
from gateway.security.documents import DocumentStore, RedisDocuments
from gateway.security.persisted import PersistedError, PersistedQueries
from gateway.settings import SettingsError, load_settings
from tests.support import REDIS_URL, codes, free_port, secured
from tests.support.live import served

QUERY = "query Flows { flows(first: 2) { nodes { sid } } }"
HASH = hashlib.sha256(QUERY.encode()).hexdigest()

DETAIL = """query($f: ID!, $e: ID!) { execution(flowSid: $f, sid: $e) {
  status context flowRevision { revision definition }
  steps { nodes { sid name context toWidget { name } } } } }"""


def persisted(digest: str = HASH) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


def large_document(number: int, size: int) -> str:
    """A distinct, valid document of about `size` bytes (a comment pads it)."""
    head = f"query Padded{number} {{ __typename }}\n# "
    return head + "x" * (size - len(head))


async def register(http: httpx.AsyncClient, document: str) -> dict[str, Any]:
    digest = hashlib.sha256(document.encode()).hexdigest()
    response = await http.post(
        "/graphql", json={"query": document, "extensions": persisted(digest)}
    )
    return response.json()  # type: ignore[no-any-return]


async def by_hash(http: httpx.AsyncClient, document: str) -> dict[str, Any]:
    digest = hashlib.sha256(document.encode()).hexdigest()
    return (await http.post("/graphql", json={"extensions": persisted(digest)})).json()  # type: ignore[no-any-return]


Shared = Callable[..., DocumentStore]


@pytest.fixture
async def shared(redis_prefix: str) -> AsyncIterator[Shared]:
    """Makes stores (one per replica) over this test's own Redis namespace; closes them."""
    made: list[DocumentStore] = []

    def make(max_bytes: int = 1024 * 1024) -> DocumentStore:
        redis = RedisDocuments(REDIS_URL, prefix=redis_prefix, max_bytes=max_bytes)
        made.append(DocumentStore(max_bytes, redis))
        return made[-1]

    try:
        yield make
    finally:
        for store in made:
            await store.aclose()


async def keys_under(prefix: str) -> list[bytes]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        return [k async for k in client.scan_iter(f"{prefix}*")]
    finally:
        await client.aclose()


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


async def test_apq_lives_in_redis_across_replicas(emulator: Emulator, shared: Shared) -> None:
    # Each replica has its own in-process LRU; only Redis can carry the document across.
    async with secured(emulator, documents=shared()) as one:
        await one.post("/graphql", json={"query": QUERY, "extensions": persisted()})
    async with secured(emulator, documents=shared()) as two:
        body = (await two.post("/graphql", json={"extensions": persisted()})).json()
    assert body["data"]["flows"]["nodes"]


async def test_a_document_planted_in_redis_under_another_hash_never_runs(
    emulator: Emulator, redis_prefix: str
) -> None:
    """Whoever can write to the shared store plants a mutation under a query's hash:
    the client asking by that hash is told it is not found, and nothing runs."""
    flow = emulator.seeded_handles.survey_flow_sid
    planted = (
        f'mutation {{ createExecution(flowSid: "{flow}", to: "+15005550006", '
        'from: "+15005550001") { sid } }'
    )
    raw = redis.Redis.from_url(REDIS_URL)
    store = DocumentStore(
        1 << 20, RedisDocuments(REDIS_URL, prefix=redis_prefix, max_bytes=1 << 20)
    )
    try:
        await raw.hset(f"{redis_prefix}documents", HASH, planted)
        async with (
            served(emulator, documents=store, environment="production", max_cost=500) as gateway,
            httpx.AsyncClient(base_url=gateway.http) as http,
        ):
            emulator.reset_counters()
            asked = (await http.post("/graphql", json={"extensions": persisted()})).json()
            posts = sum(n for route, n in emulator.requests.items() if route.startswith("POST"))
            # The client sends the text, as Apollo's do after a miss: it is what is kept now.
            await http.post("/graphql", json={"query": QUERY, "extensions": persisted()})
            again = (await http.post("/graphql", json={"extensions": persisted()})).json()
        kept = await raw.hget(f"{redis_prefix}documents", HASH)
    finally:
        await store.aclose()
        await raw.aclose()
    assert codes(asked) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert posts == 0
    assert again["data"]["flows"]["nodes"]
    assert kept == QUERY.encode()


async def test_a_safelist_entry_that_does_not_match_its_hash_never_runs() -> None:
    # Another registered operation, kept under this query's hash as well.
    other = 'mutation { deleteFlow(sid: "FW00000000000000000000000000000000") }'
    safelist = {HASH: other, hashlib.sha256(other.encode()).hexdigest(): other}
    with pytest.raises(PersistedError) as refused:
        await PersistedQueries(None, safelist=safelist).resolve({"extensions": persisted()})
    assert refused.value.code == "PERSISTED_QUERY_NOT_ALLOWED"


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


# -- the store is bounded, and apart from the upstream cache ---------------------------


async def test_registering_many_large_documents_leaves_cached_upstream_data_alone(
    emulator: Emulator,
) -> None:
    ended = emulator.seeded_handles.ended_execution
    variables = {"f": ended.flow_sid, "e": ended.execution_sid}
    # A small cache, so that documents sharing it would push its entries out.
    cache = MemoryCache(max_entries=64)
    async with secured(emulator, cache=cache, cache_ttl=60) as http:
        warm = await http.post("/graphql", json={"query": DETAIL, "variables": variables})
        assert warm.json()["data"]["execution"]["status"] == "ENDED"
        cached = len(cache)
        for number in range(80):
            assert "errors" not in await register(http, large_document(number, 10_000))
        assert len(cache) == cached
        emulator.reset_counters()
        again = await http.post("/graphql", json={"query": DETAIL, "variables": variables})
    assert again.json() == warm.json()
    assert emulator.total_requests == 0, emulator.requests


async def test_the_store_keeps_the_most_recent_documents_within_its_byte_bound(
    emulator: Emulator,
) -> None:
    bound = 64 * 1024
    documents = [large_document(number, 10_000) for number in range(15)]
    async with secured(emulator, persisted_queries_max_bytes=bound) as http:
        for document in documents:
            assert "errors" not in await register(http, document)
        assert "errors" not in await by_hash(http, documents[-1])
        assert codes(await by_hash(http, documents[0])) == ["PERSISTED_QUERY_NOT_FOUND"]
    store = DocumentStore(bound)
    async with secured(emulator, documents=store) as http:
        for document in documents:
            await register(http, document)
        assert 0 < store.memory.nbytes <= bound
        assert 3 < len(store.memory) < len(documents)


async def test_an_oversized_document_is_refused_and_not_stored(emulator: Emulator) -> None:
    document = large_document(1, 40_000)
    store = DocumentStore(1024 * 1024)
    async with secured(emulator, documents=store) as http:
        emulator.reset_counters()
        refused = await register(http, document)
        assert codes(refused) == ["BAD_USER_INPUT"]
        message = refused["errors"][0]["message"]
        assert "40000 bytes" in message and "at most 32768 bytes" in message, message
        assert len(store.memory) == 0
        assert codes(await by_hash(http, document)) == ["PERSISTED_QUERY_NOT_FOUND"]
        assert emulator.total_requests == 0


async def test_the_document_cap_is_a_setting(emulator: Emulator) -> None:
    async with secured(emulator, persisted_query_max_bytes=1024) as http:
        refused = await register(http, large_document(1, 2_000))
        assert "at most 1024 bytes" in refused["errors"][0]["message"]
        assert "errors" not in await register(http, large_document(2, 1_000))


async def test_with_a_safelist_a_sent_document_is_never_stored(
    emulator: Emulator, tmp_path: Path, shared: Shared, redis_prefix: str
) -> None:
    manifest = tmp_path / "operations.json"
    manifest.write_text(json.dumps({HASH: QUERY}))
    cache, store = MemoryCache(), shared()
    other = "{ flows { nodes { sid friendlyName } } }"
    async with secured(emulator, safelist_file=str(manifest), cache=cache, documents=store) as http:
        refused = await register(http, other)
        listed = await register(http, QUERY)
    assert codes(refused) == ["PERSISTED_QUERY_NOT_ALLOWED"]
    assert listed["data"]["flows"]["nodes"]
    assert len(cache) == 0 and len(store.memory) == 0
    assert await keys_under(redis_prefix) == []


async def test_redis_keeps_its_documents_within_the_byte_bound(
    emulator: Emulator, shared: Shared, redis_prefix: str
) -> None:
    bound = 64 * 1024
    documents = [large_document(number, 10_000) for number in range(15)]
    store = shared(bound)
    async with secured(emulator, documents=store) as http:
        for document in documents:
            assert "errors" not in await register(http, document)
    assert store.redis is not None and 0 < await store.redis.nbytes() <= bound
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        kept = [str(d) for d in await client.hvals(f"{redis_prefix}documents")]
        ttl = await client.pttl(f"{redis_prefix}documents")
    finally:
        await client.aclose()
    # The documents are ASCII: characters are bytes.
    assert 0 < sum(len(d) for d in kept) <= bound
    assert set(kept) <= set(documents[-len(kept) :])
    assert ttl > 0
    # Another replica (its own, empty LRU) finds the newest in Redis, not the oldest.
    async with secured(emulator, documents=shared(bound)) as http:
        assert "errors" not in await by_hash(http, documents[-1])
        assert codes(await by_hash(http, documents[0])) == ["PERSISTED_QUERY_NOT_FOUND"]


async def test_while_redis_is_unreachable_apq_carries_on_in_process(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    nowhere = RedisDocuments(
        f"redis://127.0.0.1:{free_port()}/0", prefix="nowhere:", max_bytes=1 << 20
    )
    store = DocumentStore(1 << 20, nowhere)
    try:
        async with secured(emulator, documents=store) as http:
            missing = await http.post("/graphql", json={"extensions": persisted()})
            registered = await register(http, QUERY)
            again = await by_hash(http, QUERY)
    finally:
        await store.aclose()
    assert missing.status_code == 200 and codes(missing.json()) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert registered["data"] == again["data"] and again["data"]["flows"]["nodes"]
    assert "persisted queries: Redis failed" in caplog.text


def test_a_document_cap_above_the_stores_bound_stops_start_up() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(persisted_queries_max_bytes=4096, persisted_query_max_bytes=8192)
    assert str(raised.value) == (
        "STUDIO_GATEWAY_PERSISTED_QUERY_MAX_BYTES: cannot exceed "
        "STUDIO_GATEWAY_PERSISTED_QUERIES_MAX_BYTES (4096)"
    )
