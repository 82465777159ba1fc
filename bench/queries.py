"""Upstream calls, latency and throughput for realistic queries.

    python -m bench.queries            # or: make bench
    python -m bench.queries --quick    # fewer requests, for a smoke run

The seeded emulator runs in this process (so its request counters can be
read) on a real socket, with an added latency per upstream request. The
gateway runs as its own process (`studio-gateway serve`), as in production.
For each query and concurrency it prints upstream calls per query, p50/p99
latency and requests per second.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import httpx

from gateway.emulator import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, Emulator, create_app
from tests.support import free_port, serve

DASHBOARD = """{ flows(first: 10) { nodes { friendlyName status
  executions(first: 5) { nodes { sid status dateCreated } } } } }"""

EXECUTION_DETAIL = """query($f: ID!, $e: ID!) { execution(flowSid: $f, sid: $e) {
  status dateCreated context flow { friendlyName } flowRevision { revision commitMessage }
  steps(first: 20) { nodes { name transitionedFrom transitionedTo type
    fromWidget { type } toWidget { type } } } } }"""

STEP_CONTEXTS = """query($f: ID!) { flow(sid: $f) { executions(first: 10, status: ENDED) {
  nodes { sid steps(first: 10) { nodes { name context } } } } } }"""

NODE = """query($id: ID!) { node(id: $id) { id ... on Execution { status flowVersion } } }"""


@dataclass
class Result:
    name: str
    latency_ms: float
    concurrency: int
    cache: str
    calls_per_query: float
    p50: float
    p99: float
    rps: float


def start_gateway(upstream: str, port: int, cache: bool) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "STUDIO_GATEWAY_UPSTREAM_URL": upstream,
        "TWILIO_ACCOUNT_SID": DEMO_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": DEMO_AUTH_TOKEN,
        "STUDIO_GATEWAY_CACHE_TTL": "3600" if cache else "0",
        "STUDIO_GATEWAY_LOG_LEVEL": "warning",
        "STUDIO_GATEWAY_MAX_IN_FLIGHT": "200",
    }
    env.pop("STUDIO_GATEWAY_REDIS_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the gateway did not start")


async def drive(
    url: str, document: str, variables: dict[str, Any], requests: int, concurrency: int
) -> tuple[list[float], float]:
    latencies: list[float] = []
    queue = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:

        async def worker() -> None:
            for _ in queue:
                started = time.perf_counter()
                response = await http.post(
                    "/graphql", json={"query": document, "variables": variables}
                )
                body = response.json()
                if response.status_code != 200 or body.get("errors"):
                    raise RuntimeError(f"query failed: {str(body)[:300]}")
                latencies.append((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return latencies, elapsed


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer requests")
    args = parser.parse_args()
    requests = 40 if args.quick else 200

    emulator = Emulator.seeded(seed=7, flows=12, executions_per_flow=40, steps_per_execution=8)
    handles = emulator.seeded_handles
    flow_sid = handles.survey_flow_sid
    execution_sid = next(
        sid
        for sid, e in emulator.account(DEMO_ACCOUNT_SID).flows[flow_sid].executions.items()
        if len(e.steps) >= 3
    )
    import base64

    node_id = base64.b64encode(f"Execution:{flow_sid}/{execution_sid}".encode()).decode()
    queries = [
        ("dashboard: 10 flows x 5 executions", DASHBOARD, {}),
        ("execution detail: context, revision, 20 steps + widgets", EXECUTION_DETAIL,
         {"f": flow_sid, "e": execution_sid}),
        ("10 ended executions x 10 steps with contexts", STEP_CONTEXTS, {"f": flow_sid}),
        ("node(id:) of an execution", NODE, {"id": node_id}),
    ]

    results: list[Result] = []
    with serve(create_app(emulator)) as upstream:
        for cache in (False, True):
            port = free_port()
            gateway = start_gateway(upstream, port, cache)
            try:
                url = f"http://127.0.0.1:{port}"
                for latency in (0.0, 0.05):
                    emulator.latency = latency
                    for name, document, variables in queries:
                        for concurrency in (1, 10, 50):
                            count = requests if concurrency > 1 else max(20, requests // 5)
                            # Warm up (and fill the cache when it is on).
                            asyncio.run(drive(url, document, variables, 2, 1))
                            emulator.reset_counters()
                            latencies, elapsed = asyncio.run(
                                drive(url, document, variables, count, concurrency)
                            )
                            results.append(
                                Result(
                                    name,
                                    latency * 1000,
                                    concurrency,
                                    "warm" if cache else "off",
                                    emulator.total_requests / count,
                                    statistics.median(latencies),
                                    percentile(latencies, 0.99),
                                    count / elapsed,
                                )
                            )
                            print(format_row(results[-1]), flush=True)
            finally:
                gateway.terminate()
                gateway.wait(10)


def format_row(r: Result) -> str:
    return (
        f"| {r.name} | {r.cache} | {r.latency_ms:.0f} ms | {r.concurrency} | "
        f"{r.calls_per_query:.1f} | {r.p50:.1f} | {r.p99:.1f} | {r.rps:.0f} |"
    )


HEADER = (
    "| query | shared cache | upstream latency | concurrency | upstream calls/query "
    "| p50 ms | p99 ms | req/s |\n|---|---|---|---|---|---|---|---|"
)

if __name__ == "__main__":
    print(HEADER, flush=True)
    main()
