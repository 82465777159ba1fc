"""Upstream calls, latency and throughput for realistic queries.

    python -m bench.queries            # or: make bench
    python -m bench.queries --quick    # fewer requests, for a smoke run

The seeded emulator and the gateway each run as their own process
(`studio-gateway emulator --admin`, `studio-gateway serve`), the emulator with
an added latency per upstream request; upstream calls are read from the
emulator's counters.
For each query and concurrency it prints upstream calls per query, p50/p99
latency and requests per second.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import time
from dataclasses import dataclass
from typing import Any

import httpx

from bench.common import emulator_process, gateway_process, percentile
from gateway.emulator import DEMO_ACCOUNT_SID, Emulator

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


async def drive(
    url: str,
    document: str,
    variables: dict[str, Any],
    requests: int,
    concurrency: int,
    failures: list[str] | None = None,
) -> tuple[list[float], float]:
    """Latencies (ms) of the answered requests, and the seconds all took.

    A failed answer ends the run, unless `failures` is given: then it is added there.
    """
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
                    if failures is None:
                        raise RuntimeError(f"query failed: {str(body)[:300]}")
                    failures.append(str(body)[:300])
                    continue
                latencies.append((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return latencies, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer requests")
    args = parser.parse_args()
    requests = 40 if args.quick else 200

    # The same seed and sizes as the emulator process: to find real SIDs here.
    sizes = {"flows": 12, "executions": 40, "steps": 8}
    local = Emulator.seeded(seed=7, flows=12, executions_per_flow=40, steps_per_execution=8)
    flow_sid = local.seeded_handles.survey_flow_sid
    execution_sid = next(
        sid
        for sid, e in local.account(DEMO_ACCOUNT_SID).flows[flow_sid].executions.items()
        if len(e.steps) >= 3 and e.status == "ended"
    )
    node_id = base64.b64encode(f"Execution:{flow_sid}/{execution_sid}".encode()).decode()
    queries = [
        ("dashboard: 10 flows x 5 executions", DASHBOARD, {}),
        (
            "execution detail: context, revision, 20 steps + widgets",
            EXECUTION_DETAIL,
            {"f": flow_sid, "e": execution_sid},
        ),
        ("10 ended executions x 10 steps with contexts", STEP_CONTEXTS, {"f": flow_sid}),
        ("node(id:) of an execution", NODE, {"id": node_id}),
    ]

    for latency in (0.0, 0.05):
        with emulator_process(latency=latency, **sizes) as upstream:
            for cache in (False, True):
                with gateway_process(upstream.url, cache=cache) as url:
                    for name, document, variables in queries:
                        for concurrency in (1, 10, 50):
                            count = requests if concurrency > 1 else max(20, requests // 5)
                            # Warm up (and fill the cache when it is on).
                            asyncio.run(drive(url, document, variables, 2, 1))
                            upstream.reset()
                            latencies, elapsed = asyncio.run(
                                drive(url, document, variables, count, concurrency)
                            )
                            row = Result(
                                name,
                                latency * 1000,
                                concurrency,
                                "warm" if cache else "off",
                                upstream.calls() / count,
                                statistics.median(latencies),
                                percentile(latencies, 0.99),
                                count / elapsed,
                            )
                            print(format_row(row), flush=True)


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
