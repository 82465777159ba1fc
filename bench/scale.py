"""Q1 on one replica and on two sharing Redis: upstream calls and latency, cold and warm.

    python -m bench.scale            # 20 ms upstream latency
    python -m bench.scale --latency 0.05

Q1 reads a flow, 20 of its ended executions with their contexts, and every
step of each with its context. The seeded emulator (`--admin`, with added
latency), a `redis-server` on a free port and one or two `studio-gateway
serve` processes each run on their own; upstream calls come from the
emulator's counters. Cases:

- one replica without Redis, for comparison: cold, then warm;
- one replica: cold (nothing cached), then warm (the same replica again);
- two replicas: cold on A, then B (warm through Redis alone), then A and B
  together on a flow neither has seen (one fetch per entry across both).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx

from bench.common import Upstream, emulator_process, gateway_process
from gateway.cache import new_key
from gateway.emulator import DEMO_ACCOUNT_SID, Emulator
from tests.support import RedisServer, free_port

Q1 = """query($f: ID!) { flow(sid: $f) { friendlyName
  executions(first: 20, status: ENDED) { nodes { sid status context contactChannelAddress
    steps { nodes { name transitionedTo context } } } } } }"""

SIZES = {"flows": 6, "executions": 40, "steps": 8}


@contextlib.contextmanager
def redis_process() -> Iterator[str]:
    server = RedisServer(free_port())
    server.start()
    try:
        yield server.url
    finally:
        server.kill()


@contextlib.contextmanager
def replicas(upstream: str, redis_url: str | None, count: int) -> Iterator[list[str]]:
    """`count` gateways sharing `redis_url` (None: each its own process cache)."""
    shared = {"STUDIO_GATEWAY_REDIS_URL": redis_url} if redis_url else {}
    shared["STUDIO_GATEWAY_CACHE_ENCRYPTION_KEYS"] = new_key()
    with contextlib.ExitStack() as stack:
        yield [
            stack.enter_context(gateway_process(upstream, cache=True, **shared))
            for _ in range(count)
        ]


async def q1(urls: list[str], flow_sid: str) -> float:
    """Q1 through each of `urls` at once; the slowest answer's milliseconds."""
    async with httpx.AsyncClient(timeout=60) as http:

        async def one(url: str) -> float:
            started = time.perf_counter()
            response = await http.post(
                f"{url}/graphql", json={"query": Q1, "variables": {"f": flow_sid}}
            )
            body: dict[str, Any] = response.json()
            assert "errors" not in body, body["errors"]
            assert len(body["data"]["flow"]["executions"]["nodes"]) == 20
            return (time.perf_counter() - started) * 1000

        return max(await asyncio.gather(*(one(url) for url in urls)))


def measure(upstream: Upstream, case: str, urls: list[str], flow_sid: str) -> None:
    upstream.reset()
    elapsed = asyncio.run(q1(urls, flow_sid))
    print(f"| {case} | {len(urls)} | {upstream.calls()} | {elapsed:.0f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=float, default=0.02, help="upstream seconds/request")
    args = parser.parse_args()
    local = Emulator.seeded(
        seed=7,
        flows=SIZES["flows"],
        executions_per_flow=SIZES["executions"],
        steps_per_execution=SIZES["steps"],
    )
    flows = [
        sid
        for sid, flow in local.account(DEMO_ACCOUNT_SID).flows.items()
        if sum(e.status == "ended" for e in flow.executions.values()) >= 20
    ]
    print(f"Q1: a flow, 20 ended executions with contexts, their steps with contexts; "
          f"upstream latency {args.latency * 1000:.0f} ms")  # fmt: skip
    print("| case | replicas asked | upstream calls | ms (slowest) |")
    print("|---|---|---|---|")
    with emulator_process(latency=args.latency, **SIZES) as upstream, redis_process() as redis:
        with replicas(upstream.url, None, 1) as (alone,):
            measure(upstream, "one replica, no Redis, cold", [alone], flows[0])
            measure(upstream, "one replica, no Redis, warm", [alone], flows[0])
        with replicas(upstream.url, redis, 1) as (only,):
            measure(upstream, "one replica, cold", [only], flows[0])
            measure(upstream, "one replica, warm", [only], flows[0])
        subprocess.run(["redis-cli", "-u", redis, "FLUSHALL"], check=True, capture_output=True)
        with replicas(upstream.url, redis, 2) as (a, b):
            measure(upstream, "two replicas: A cold", [a], flows[0])
            measure(upstream, "two replicas: B, warm through Redis", [b], flows[0])
            measure(upstream, "two replicas: A and B at once, cold", [a, b], flows[1])
            measure(upstream, "two replicas: A and B at once, warm", [a, b], flows[1])


if __name__ == "__main__":
    main()
