"""The webhook: the emulator's live mode delivers, the gateway checks, de-duplicates,
evicts and publishes, each event once, whatever the batches, duplicates and order."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from gateway.app import create_app
from gateway.cache import Entry, RedisCache
from gateway.emulator import Emulator
from gateway.emulator.eventstreams import body_of, signed_request
from gateway.emulator.live import LiveMode, LiveOptions
from gateway.events import EXECUTION_ENDED, StudioEvent
from gateway.events.redis import RedisBroker
from gateway.keeping import execution_tag
from gateway.shared import SharedRedis
from tests.support import asgi_transport, gateway_settings, serve, until
from tests.support.events import REDIS_URL, events_app, running

HOOK = "http://gw.test/webhooks/twilio/events"


def live_mode(emulator: Emulator, http: httpx.AsyncClient, **options: object) -> LiveMode:
    return LiveMode(emulator, LiveOptions(url=HOOK, **options), http=http)  # type: ignore[arg-type]


async def run_all(live: LiveMode, count: int) -> list[str]:
    sids = [live.start_execution() for _ in range(count)]
    while live.live:
        await live.advance()
    return sids


def assert_each_once_in_order(live: LiveMode, sids: list[str], heard: list[StudioEvent]) -> None:
    times = Counter(event.id for event in heard)
    assert set(times.values()) == {1}
    for sid in sids:
        made = [event["id"] for event in live.emitted[sid]]
        of_execution = sorted((e for e in heard if e.execution_sid == sid), key=lambda e: e.time)
        assert [event.id for event in of_execution] == made
        assert of_execution[-1].type == EXECUTION_ENDED


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"batch": 4},
        {"batch": 1, "duplicates": 0.6, "shuffle": True, "seed": 1},
        {"batch": 5, "duplicates": 0.6, "shuffle": True, "seed": 2},
    ],
    ids=["one-per-request", "arrays", "duplicated-shuffled", "arrays-duplicated-shuffled"],
)
async def test_live_webhooks_reach_a_broker_listener_once_each(
    emulator: Emulator, options: dict[str, object]
) -> None:
    async with running(events_app(emulator)) as (gateway, http):
        heard: list[StudioEvent] = []
        gateway.broker.listen(emulator.account_sid, heard.append)
        live = live_mode(emulator, http, **options)
        sids = await run_all(live, 3)
    assert set(live.answers) == {202}
    assert_each_once_in_order(live, sids, heard)
    steps = [e.step for e in heard if e.step is not None]
    flow_sid = next(e.flow_sid for e in heard if e.execution_sid == sids[0])
    execution = emulator.account(emulator.account_sid).execution(flow_sid, sids[0])
    assert execution is not None
    told = sorted((s for s in steps if s.execution_sid == sids[0]), key=lambda s: s.sid)
    assert [s.sid for s in told] == sorted(s.sid for s in execution.steps)


async def test_a_forged_or_missing_signature_is_refused_and_changes_nothing(
    emulator: Emulator,
) -> None:
    async with running(events_app(emulator)) as (gateway, http):
        heard: list[StudioEvent] = []
        gateway.broker.listen(emulator.account_sid, heard.append)
        live = live_mode(emulator, http)
        sid = live.start_execution()
        flow_sid = live.emitted[sid][0]["data"]["flow_sid"]
        assert gateway.cache is not None
        # What a read of the running execution would have kept.
        entry = Entry(
            "probe:" + sid,
            pii=False,
            tags=(execution_tag(live.account.account_sid, flow_sid, sid),),
        )
        await gateway.cache.set(entry, b"active data")

        assert await live.deliver(live.emitted[sid], forged=True) == 403
        body = body_of(live.emitted[sid], as_array=True)
        unsigned = await http.post(HOOK, content=body)
        url, _ = signed_request(HOOK, body, "not the token")
        wrong_url = await http.post(url, content=body, headers={"X-Twilio-Signature": "x"})
        # A bodySHA256 that is not even ASCII is as forged as any other.
        odd = await http.post(
            f"{HOOK}?bodySHA256=%C3%A9", content=body, headers={"X-Twilio-Signature": "x"}
        )
        assert (unsigned.status_code, wrong_url.status_code, odd.status_code) == (403, 403, 403)
        assert unsigned.json() == {"error": "missing or invalid X-Twilio-Signature"}
        assert heard == []
        assert await gateway.cache.get(entry) == b"active data"

        # The genuine delivery of the same events goes through.
        while live.live:
            await live.advance()
        assert await gateway.cache.get(entry) is None
        assert [e.id for e in heard] == [e["id"] for e in live.emitted[sid]]


async def test_an_ended_event_makes_the_cached_active_data_go(emulator: Emulator) -> None:
    async with running(events_app(emulator)) as (gateway, http):
        live = live_mode(emulator, http)
        sid = live.start_execution()
        while len(live.emitted[sid]) < 3:
            await live.advance()
        flow_sid = live.emitted[sid][0]["data"]["flow_sid"]
        assert gateway.cache is not None
        tag = execution_tag(live.account.account_sid, flow_sid, sid)
        entry = Entry("probe:" + sid, pii=False, tags=(tag,))
        await gateway.cache.set(entry, b"steps so far")
        while live.live:
            await live.advance()
        assert live.emitted[sid][-1]["type"] == EXECUTION_ENDED
        assert await gateway.cache.get(entry) is None


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{", 400, "not valid JSON"),
        (b"7", 400, "neither a CloudEvent object nor an array"),
        (b"[" + b"0," * 700_000 + b"0]", 413, "at most 1048576 bytes"),
    ],
    ids=["not-json", "not-an-event", "too-large"],
)
async def test_a_signed_but_unusable_delivery_gets_a_clear_error(
    emulator: Emulator, body: bytes, status: int, message: str
) -> None:
    async with running(events_app(emulator)) as (gateway, http):
        heard: list[StudioEvent] = []
        gateway.broker.listen(emulator.account_sid, heard.append)
        _, token = gateway.settings.events_signers()[0]
        url, signature = signed_request(HOOK, body, token)
        answer = await http.post(url, content=body, headers={"X-Twilio-Signature": signature})
    assert answer.status_code == status
    assert message in answer.json()["error"]
    assert heard == []


async def test_behind_a_proxy_the_configured_public_url_is_what_is_signed(
    emulator: Emulator,
) -> None:
    public = "https://studio-gw.example.com/hooks/twilio"
    app = events_app(emulator, events_public_url=public)
    async with running(app) as (gateway, http):
        heard: list[StudioEvent] = []
        gateway.broker.listen(emulator.account_sid, heard.append)
        live = live_mode(emulator, httpx.AsyncClient())  # only its events are used
        sid = live.start_execution()
        body = body_of(live.emitted[sid], as_array=False)
        _, token = gateway.settings.events_signers()[0]
        signed_url, signature = signed_request(public, body, token)
        query = signed_url.split("?", 1)[1]
        answer = await http.post(
            HOOK + "?" + query, content=body, headers={"X-Twilio-Signature": signature}
        )
        as_received_url, as_received = signed_request(HOOK, body, token)
        refused = await http.post(
            as_received_url, content=body, headers={"X-Twilio-Signature": as_received}
        )
        await live.stop()
    assert (answer.status_code, refused.status_code) == (202, 403)
    assert [e.execution_sid for e in heard] == [sid]


async def test_a_webhook_to_one_replica_reaches_a_listener_on_another_once(
    emulator: Emulator, redis_prefix: str
) -> None:
    caches = [RedisCache(REDIS_URL, prefix=redis_prefix) for _ in range(2)]
    app_a, app_b = (events_app(emulator, cache=cache) for cache in caches)
    async with (
        contextlib.AsyncExitStack() as stack,
        running(app_a) as (_, http_a),
        running(app_b) as (gateway_b, http_b),
    ):
        for cache in caches:
            stack.push_async_callback(cache.aclose)
        assert isinstance(gateway_b.broker, RedisBroker)
        heard: list[StudioEvent] = []
        gateway_b.broker.listen(emulator.account_sid, heard.append)
        await gateway_b.broker.ready()
        live = live_mode(emulator, http_a, duplicates=0.5, shuffle=True, batch=3)
        sids = await run_all(live, 2)
        # Twilio's retries may land on the other replica: still once.
        to_b = LiveMode(emulator, LiveOptions(url=HOOK), http=http_b)
        for sid in sids:
            assert await to_b.deliver(live.emitted[sid]) == 202
        await until(lambda: len(heard) >= sum(len(live.emitted[s]) for s in sids))
    assert_each_once_in_order(live, sids, heard)


def test_over_a_real_server_every_event_is_published_once(
    emulator: Emulator, redis_prefix: str
) -> None:
    """uvicorn answers the webhook, then processes: a replica on the same Redis hears it."""
    cache = RedisCache(REDIS_URL, prefix=redis_prefix)
    app = create_app(gateway_settings(events=True), transport=asgi_transport(emulator), cache=cache)
    lifespan = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def closing_the_cache(app: Starlette) -> AsyncIterator[Any]:
        async with lifespan(app) as state:
            yield state
        await cache.aclose()  # in the server's loop, where its connections live

    app.router.lifespan_context = closing_the_cache

    async def scenario(base: str) -> tuple[LiveMode, list[str], list[StudioEvent], bytes]:
        shared = SharedRedis(REDIS_URL, prefix=redis_prefix)
        replica = RedisBroker(shared)
        heard: list[StudioEvent] = []
        replica.listen(emulator.account_sid, heard.append)
        await replica.ready()
        hook = base + "/webhooks/twilio/events"
        live = LiveMode(emulator, LiveOptions(url=hook, batch=2, duplicates=0.5, shuffle=True))
        sids = await run_all(live, 2)
        await until(lambda: len(heard) >= sum(len(live.emitted[s]) for s in sids))
        await live.stop()
        async with httpx.AsyncClient() as http:
            metrics = (await http.get(base + "/metrics")).content
        await replica.aclose()
        await shared.aclose()
        return live, sids, heard, metrics

    with serve(app) as base:
        live, sids, heard, metrics = asyncio.run(scenario(base))
    assert set(live.answers) == {202}
    assert_each_once_in_order(live, sids, heard)
    published = sum(len(live.emitted[s]) for s in sids)
    assert f'studio_gateway_events_total{{outcome="published",type="{EXECUTION_ENDED}"}} 2.0' in (
        metrics.decode()
    )
    assert published == len(heard)


async def test_a_replay_older_than_twilios_retries_is_dropped(emulator: Emulator) -> None:
    async with running(events_app(emulator)) as (gateway, http):
        heard: list[StudioEvent] = []
        gateway.broker.listen(emulator.account_sid, heard.append)
        live = live_mode(emulator, http)
        sid = live.start_execution()
        genuine = live.emitted[sid][0]
        # The same event as captured months ago, under an id nobody remembers any more.
        stale = {**genuine, "id": "EZreplayed", "time": "2026-01-01T00:00:00.000Z"}
        _, token = gateway.settings.events_signers()[0]
        for event in (stale, genuine):
            body = body_of([event], as_array=True)
            url, signature = signed_request(HOOK, body, token)
            answer = await http.post(url, content=body, headers={"X-Twilio-Signature": signature})
            assert answer.status_code == 202
        await until(lambda: len(heard) == 1)
    assert [event.id for event in heard] == [genuine["id"]]
