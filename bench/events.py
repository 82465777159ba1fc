"""Event Streams webhook to broker: latency and events per second.

    python -m bench.events            # 20 executions side by side
    python -m bench.events --quick    # a smoke run

The gateway runs as its own process (`studio-gateway serve`, events on, one
Redis); the emulator's live mode, in this process, advances executions and
delivers their signed webhooks to it; a RedisBroker here, on the same Redis,
stands for a second replica and hears each event. Latency is from the
moment the emulator made an event (its CloudEvent `time`, taken just before
delivery) to the moment the listener heard it: signature check, parsing,
de-duplication, cache eviction, publishing and one Redis pub/sub hop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from datetime import UTC, datetime

import httpx

from bench.common import gateway_server, percentile
from gateway.emulator import Emulator
from gateway.emulator.live import LiveMode, LiveOptions
from gateway.events import StudioEvent
from gateway.events.redis import RedisBroker
from gateway.shared import SharedRedis

REDIS_URL = "redis://127.0.0.1:6379/0"


async def measure(base: str, executions: int, batch: int) -> None:
    emulator = Emulator.seeded(seed=11, flows=6, executions_per_flow=2, steps_per_execution=4)
    shared = SharedRedis(REDIS_URL)  # the gateway's own prefix: the same channels
    replica = RedisBroker(shared)
    latencies: list[float] = []
    ours: set[str] = set()
    expected = [0]
    all_heard = asyncio.Event()

    def heard(event: StudioEvent) -> None:
        if event.execution_sid in ours:
            latencies.append((datetime.now(UTC) - event.time).total_seconds() * 1000)
            if expected[0] and len(latencies) >= expected[0]:
                all_heard.set()

    replica.listen(emulator.account_sid, heard)
    await replica.ready()
    limits = httpx.Limits(max_connections=50)
    live = LiveMode(
        emulator,
        LiveOptions(url=base + "/webhooks/twilio/events", batch=batch, shuffle=True),
        http=httpx.AsyncClient(limits=limits, timeout=10),
    )
    ours.update(live.start_execution() for _ in range(executions))
    started = time.perf_counter()
    while live.live:
        await live.advance()
    made = expected[0] = sum(len(live.emitted[sid]) for sid in ours)
    if len(latencies) >= made:
        all_heard.set()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(all_heard.wait(), 10)
    elapsed = time.perf_counter() - started
    await live.stop()
    await replica.aclose()
    await shared.aclose()
    refused = sum(n for status, n in live.answers.items() if status != 202)
    print(
        f"{executions:>4} executions  batch {batch:>2}  {made:>5} events  "
        f"heard {len(latencies):>5}  refused {refused}  "
        f"p50 {percentile(latencies, 0.5):7.1f} ms  p99 {percentile(latencies, 0.99):7.1f} ms  "
        f"{len(latencies) / elapsed:8.0f} events/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    args = parser.parse_args()
    executions = 5 if args.quick else 20
    with gateway_server(
        "http://127.0.0.1:9",  # never called: events need no upstream
        cache=True,
        STUDIO_GATEWAY_EVENTS="true",
        STUDIO_GATEWAY_REDIS_URL=REDIS_URL,
    ) as gateway:
        for batch in (1, 10):
            asyncio.run(measure(gateway.url, executions, batch))


if __name__ == "__main__":
    main()
