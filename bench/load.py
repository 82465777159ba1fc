"""Sustained load: a realistic mix of nested queries and mutations, for a set time.

    python -m bench.load                       # 60 s, 32 clients, 20 ms upstream latency
    python -m bench.load --duration 10 --clients 8 --latency 0.05 --no-cache

The seeded emulator and the gateway each run as their own process on
127.0.0.1 (see `bench/common.py`). Closed loop: each client sends its next
operation when the previous one has answered, drawn from the mix below. A
mutation is a pair, `createExecution` then (when the execution waits for its
contact) `endExecution`, for a contact no other client uses, so executions
never conflict. Reports requests per second,
p50/p95/p99 latency (overall and per kind), the error rate and the codes
seen, and upstream calls per operation (from the emulator's counters).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.common import emulator_process, gateway_server, percentile

DASHBOARD = """{ flows(first: 10) { nodes { sid friendlyName status
  executions(first: 5) { nodes { sid status dateCreated } } } } }"""

EXECUTION_DETAIL = """query($f: ID!, $e: ID!) { execution(flowSid: $f, sid: $e) {
  status dateCreated context flow { friendlyName } flowRevision { revision commitMessage }
  steps(first: 20) { nodes { name transitionedFrom transitionedTo type
    fromWidget { type } toWidget { type } } } } }"""

STEP_CONTEXTS = """query($f: ID!) { flow(sid: $f) { executions(first: 5, status: ENDED) {
  nodes { sid steps(first: 5) { nodes { name context } } } } } }"""

NODE = """query($id: ID!) { node(id: $id) { id ... on Execution { status flowVersion } } }"""

CREATE = """mutation($f: ID!, $to: String!) {
  createExecution(flowSid: $f, to: $to, from: "+15005550001") { sid status } }"""

END = """mutation($f: ID!, $e: ID!) { endExecution(flowSid: $f, sid: $e) { sid status } }"""

DISCOVER = """{ flows(first: 50) { nodes { sid status
  executions(first: 20) { nodes { sid status } } } } }"""

#: Kinds a client may hang up on (never a mutation: its outcome would be unknown).
READS = frozenset({"dashboard", "execution_detail", "step_contexts", "node"})

#: Kinds of operation and how often each is drawn.
MIX: dict[str, float] = {
    "dashboard": 0.35,
    "execution_detail": 0.25,
    "step_contexts": 0.10,
    "node": 0.15,
    "create_and_end": 0.15,
}


@dataclass
class Seeds:
    """SIDs the mix needs, discovered through the gateway itself."""

    published_flows: list[str]
    executions: list[tuple[str, str]]  # (flow_sid, execution_sid), ended ones


@dataclass
class Stats:
    """What one run measured."""

    started: float = field(default_factory=time.perf_counter)
    elapsed: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    failed: int = 0  # operations with any error or a non-200 answer
    operations: int = 0  # GraphQL requests sent (a create_and_end pair counts two)
    hangups: int = 0  # requests the client gave up on on purpose (not in the above)
    upstream_calls: int | None = None

    def observe(self, kind: str, seconds: float, codes: list[str]) -> None:
        self.latencies.setdefault(kind, []).append(seconds * 1000)
        self.operations += 1
        if codes:
            self.failed += 1
            self.errors.update(codes)

    def report(self) -> dict[str, Any]:
        everything = [ms for values in self.latencies.values() for ms in values]
        return {
            "seconds": round(self.elapsed, 1),
            "requests": self.operations,
            "requests_per_second": round(self.operations / self.elapsed, 1) if self.elapsed else 0,
            "p50_ms": _pct(everything, 0.50),
            "p95_ms": _pct(everything, 0.95),
            "p99_ms": _pct(everything, 0.99),
            "error_rate": round(self.failed / self.operations, 4) if self.operations else 0,
            "error_codes": dict(self.errors),
            "hangups": self.hangups,
            "upstream_calls_per_request": (
                round(self.upstream_calls / self.operations, 2)
                if self.upstream_calls is not None and self.operations
                else None
            ),
            "by_kind": {
                kind: {
                    "count": len(values),
                    "p50_ms": _pct(values, 0.50),
                    "p95_ms": _pct(values, 0.95),
                    "p99_ms": _pct(values, 0.99),
                }
                for kind, values in sorted(self.latencies.items())
            },
        }


def _pct(values: list[float], q: float) -> float | None:
    return round(percentile(values, q), 1) if values else None


async def discover(http: httpx.AsyncClient) -> Seeds:
    response = await http.post("/graphql", json={"query": DISCOVER})
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"could not read the seeded flows: {str(body)[:300]}")
    flows = body["data"]["flows"]["nodes"]
    published = [f["sid"] for f in flows if f["status"] == "PUBLISHED"]
    executions = [
        (f["sid"], e["sid"])
        for f in flows
        for e in f["executions"]["nodes"]
        if e["status"] == "ENDED"
    ]
    if not published or not executions:
        raise RuntimeError("the seeded account has no published flow or no ended execution")
    return Seeds(published, executions)


class Client:
    """One closed-loop client: draws an operation, sends it, records what came back."""

    _contacts = itertools.count(1)

    def __init__(
        self,
        http: httpx.AsyncClient,
        seeds: Seeds,
        stats: Stats,
        rng: random.Random,
        hangups: float = 0.0,
    ) -> None:
        self.http = http
        self.seeds = seeds
        self.stats = stats
        self.rng = rng
        self.hangups = hangups
        self.kinds = list(MIX)
        self.weights = [MIX[k] for k in self.kinds]

    async def run(self, until: float) -> None:
        while time.perf_counter() < until:
            kind = self.rng.choices(self.kinds, self.weights)[0]
            await getattr(self, kind)()

    async def send(self, kind: str, document: str, variables: dict[str, Any]) -> Any:
        if kind in READS and self.rng.random() < self.hangups:
            await self.hang_up(document, variables)
            return None
        started = time.perf_counter()
        try:
            response = await self.http.post(
                "/graphql", json={"query": document, "variables": variables}
            )
            body = response.json() if response.status_code == 200 else {}
            codes = [
                str((e.get("extensions") or {}).get("code", "UNKNOWN"))
                for e in body.get("errors", [])
            ]
            if response.status_code != 200:
                codes.append(f"HTTP_{response.status_code}")
        except (httpx.HTTPError, json.JSONDecodeError) as error:
            body, codes = {}, [type(error).__name__]
        self.stats.observe(kind, time.perf_counter() - started, codes)
        return body.get("data")

    async def hang_up(self, document: str, variables: dict[str, Any]) -> None:
        """Send a read and close the connection before the answer: a client gone away."""
        try:
            await self.http.post(
                "/graphql",
                json={"query": document, "variables": variables},
                timeout=httpx.Timeout(30, read=self.rng.uniform(0.005, 0.05)),
            )
        except httpx.TimeoutException:
            pass
        self.stats.hangups += 1

    async def dashboard(self) -> None:
        await self.send("dashboard", DASHBOARD, {})

    async def execution_detail(self) -> None:
        flow_sid, execution_sid = self.rng.choice(self.seeds.executions)
        await self.send("execution_detail", EXECUTION_DETAIL, {"f": flow_sid, "e": execution_sid})

    async def step_contexts(self) -> None:
        flow_sid, _ = self.rng.choice(self.seeds.executions)
        await self.send("step_contexts", STEP_CONTEXTS, {"f": flow_sid})

    async def node(self) -> None:
        flow_sid, execution_sid = self.rng.choice(self.seeds.executions)
        node_id = base64.b64encode(f"Execution:{flow_sid}/{execution_sid}".encode()).decode()
        await self.send("node", NODE, {"id": node_id})

    async def create_and_end(self) -> None:
        flow_sid = self.rng.choice(self.seeds.published_flows)
        contact = f"+1555{next(self._contacts):07d}"
        data = await self.send("create_execution", CREATE, {"f": flow_sid, "to": contact})
        created = (data or {}).get("createExecution")
        # Some flows run to their end at once; only a waiting execution can be ended.
        if created and created["status"] == "ACTIVE":
            await self.send("end_execution", END, {"f": flow_sid, "e": created["sid"]})


async def run_load(
    url: str,
    *,
    duration: float,
    clients: int,
    seed: int = 1,
    seeds: Seeds | None = None,
    hangups: float = 0.0,
) -> Stats:
    """Drive `clients` closed-loop clients against the gateway at `url` for `duration` s.

    A `hangups` fraction of reads is abandoned mid-request (the connection closed).
    """
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as http:
        seeds = seeds or await discover(http)
        stats = Stats()
        until = time.perf_counter() + duration
        workers = [
            Client(http, seeds, stats, random.Random(seed * 1000 + n), hangups).run(until)
            for n in range(clients)
        ]
        await asyncio.gather(*workers)
        stats.elapsed = time.perf_counter() - stats.started
    return stats


def print_report(report: dict[str, Any], title: str) -> None:
    print(f"\n{title}")
    print(
        f"  {report['requests']} requests in {report['seconds']} s: "
        f"{report['requests_per_second']} req/s; "
        f"p50 {report['p50_ms']} ms, p95 {report['p95_ms']} ms, p99 {report['p99_ms']} ms"
    )
    print(
        f"  error rate {report['error_rate']:.2%} {report['error_codes'] or ''}; "
        f"hang-ups {report['hangups']}; "
        f"upstream calls per request {report['upstream_calls_per_request']}"
    )
    print("  | kind | count | p50 ms | p95 ms | p99 ms |\n  |---|---|---|---|---|")
    for kind, row in report["by_kind"].items():
        cells = [kind, row["count"], row["p50_ms"], row["p95_ms"], row["p99_ms"]]
        print("  | " + " | ".join(str(cell) for cell in cells) + " |")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients")
    parser.add_argument("--latency", type=float, default=0.02, help="upstream seconds/request")
    parser.add_argument("--cache", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--hangups", type=float, default=0.0, help="fraction of reads abandoned mid-request"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with (
        emulator_process(latency=args.latency) as upstream,
        gateway_server(upstream.url, cache=args.cache) as gateway,
    ):
        seeds = asyncio.run(_discover(gateway.url))
        upstream.reset()
        stats = asyncio.run(
            run_load(
                gateway.url,
                duration=args.duration,
                clients=args.clients,
                seeds=seeds,
                hangups=args.hangups,
            )
        )
        stats.upstream_calls = upstream.calls()
    report = stats.report()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(
            report,
            f"load: {args.clients} clients, {args.latency * 1000:.0f} ms upstream latency, "
            f"cache {'on' if args.cache else 'off'}",
        )
    return 0


async def _discover(url: str) -> Seeds:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        return await discover(http)


if __name__ == "__main__":
    sys.exit(main())
