"""The gateway beside GraphQL Mesh, on the same emulator, query for query.

    python -m bench.mesh                       # one worker each, 0 ms and 50 ms upstream
    python -m bench.mesh --workers 2 --quick   # two workers for us, fewer requests

Mesh (Mesh Compose + Hive Gateway, with the three hand-written `@resolveTo`
links of `bench/mesh/mesh.config.ts`, so Q1 and Q2 are one request there too)
is installed from `bench/mesh/package-lock.json` with `npm ci` on first use
(into the git-ignored `bench/mesh/node_modules`; Node 20). Both serve the same
emulator process (5 flows x 40 executions x up to 12 steps). For each query
and upstream latency it prints, for both: upstream calls per query, p50/p99 at
concurrency 1, requests per second at concurrency 16, and our/Mesh ratios;
for us also CPU milliseconds per operation (the server process and its
workers, from /proc) and CPU microseconds per resolved field.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import statistics
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.common import Upstream, _wait, emulator_process, gateway_server, percentile
from bench.queries import drive
from gateway.emulator import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, Emulator
from tests.support import free_port

MESH = Path(__file__).parent / "mesh"
SIZES = {"flows": 5, "executions": 40, "steps": 12}

OURS = {
    "Q1": """query Q1($flowSid: ID!) { flow(sid: $flowSid) { sid friendlyName status revision
  executions(first: 20) { nodes { sid status dateCreated flowVersion
    steps(first: 50) { nodes { sid name transitionedFrom transitionedTo dateCreated } } } } } }""",
    "Q2": """query Q2($flowSid: ID!, $sid: ID!) { execution(flowSid: $flowSid, sid: $sid) {
  sid status flowVersion dateCreated contactChannelAddress
  steps(first: 50) { nodes { sid name type transitionedFrom transitionedTo parentStepSid
    dateCreated dateUpdated context } } } }""",
    "Q3": """query Q3 { flows(first: 50) { nodes { sid friendlyName status revision }
  pageInfo { hasNextPage endCursor } } }""",
}

MESH_QUERIES = {
    "Q1": """query Q1($flowSid: queryInput_FetchFlow_Sid!) { FetchFlow(Sid: $flowSid) {
  sid friendly_name status revision
  executions(PageSize: 20) { executions { sid status date_created flow_version
    steps(PageSize: 50) { steps { sid name transitioned_from transitioned_to
      date_created } } } } } }""",
    "Q2": """query Q2($flowSid: queryInput_FetchExecution_FlowSid!,
  $sid: queryInput_FetchExecution_Sid!) {
  FetchExecution(FlowSid: $flowSid, Sid: $sid) {
    sid status flow_version date_created contact_channel_address
    steps(PageSize: 50) { steps { sid name type transitioned_from transitioned_to parent_step_sid
      date_created date_updated step_context { context } } } } }""",
    "Q3": """query Q3 { ListFlow(PageSize: 50) { flows { sid friendly_name status revision }
  meta { next_page_url } } }""",
}


@dataclass
class Row:
    calls: float
    p50: float
    p99: float
    rps: float
    cpu_ms: float | None = None
    field_us: float | None = None


def sids() -> dict[str, str]:
    """The flow with the most executions, its execution with the most steps (the process's seed)."""
    local = Emulator.seeded(
        seed=7,
        flows=SIZES["flows"],
        executions_per_flow=SIZES["executions"],
        steps_per_execution=SIZES["steps"],
    )
    flows = local.account(DEMO_ACCOUNT_SID).flows
    flow_sid = max(flows, key=lambda sid: len(flows[sid].executions))
    executions = flows[flow_sid].executions
    execution_sid = max(executions, key=lambda sid: len(executions[sid].steps))
    return {"flowSid": flow_sid, "sid": execution_sid}


@contextlib.contextmanager
def mesh_server(upstream_port: int) -> Iterator[str]:
    """Hive Gateway serving the linked Mesh supergraph, in front of the emulator."""
    if not (MESH / "node_modules" / "@graphql-hive" / "gateway").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=MESH, check=True)
    env = {
        **os.environ,
        "UPSTREAM_PORT": str(upstream_port),
        "STUDIO_BASIC_AUTH": base64.b64encode(
            f"{DEMO_ACCOUNT_SID}:{DEMO_AUTH_TOKEN}".encode()
        ).decode(),
    }
    subprocess.run(["node", "prepare_spec.mjs"], cwd=MESH, env=env, check=True)
    subprocess.run([str(MESH / "node_modules/.bin/mesh-compose")], cwd=MESH, env=env, check=True)
    port = free_port()
    command = ["node", "node_modules/.bin/hive-gateway", "supergraph", "supergraph.graphql"]
    process = subprocess.Popen(
        [*command, "-h", "127.0.0.1", "-p", str(port)],
        cwd=MESH,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(url, process, "/healthcheck")
        yield url
    finally:
        process.terminate()
        process.wait(10)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (uvicorn's workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        pending.extend(int(child) for child in children)
    return total


def fields_in(value: Any) -> int:
    """Resolved fields in an answer: every key of every object."""
    if isinstance(value, dict):
        return len(value) + sum(fields_in(v) for v in value.values())
    if isinstance(value, list):
        return sum(fields_in(v) for v in value)
    return 0


def measure(
    url: str, document: str, variables: dict[str, Any], upstream: Upstream, requests: int
) -> tuple[Row, int]:
    """The row for one server and query, and how many fields its answer holds."""
    answer = httpx.post(f"{url}/graphql", json={"query": document, "variables": variables})
    body = answer.json()
    if answer.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"query failed: {str(body)[:300]}")
    upstream.reset()
    asyncio.run(drive(url, document, variables, 1, 1))
    calls = upstream.calls()
    single, _ = asyncio.run(drive(url, document, variables, max(20, requests // 5), 1))
    _, elapsed = asyncio.run(drive(url, document, variables, requests, 16))
    row = Row(calls, statistics.median(single), percentile(single, 0.99), requests / elapsed)
    return row, fields_in(body["data"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=1, help="our uvicorn workers")
    parser.add_argument("--quick", action="store_true", help="fewer requests")
    parser.add_argument("--latency", type=float, action="append", help="upstream seconds")
    args = parser.parse_args()
    requests = 80 if args.quick else 400
    variables = sids()
    print(
        "| query | upstream | calls us/Mesh | p50 ms us/Mesh (ratio) | p99 ms us/Mesh "
        "| req/s c=16 us/Mesh (ratio) | our CPU ms/op | our CPU µs/field |\n"
        "|---|---|---|---|---|---|---|---|",
        flush=True,
    )
    for latency in args.latency or [0.0, 0.05]:
        with emulator_process(latency=latency, **SIZES) as upstream:
            port = int(upstream.url.rsplit(":", 1)[1])
            with (
                gateway_server(
                    upstream.url, cache=False, STUDIO_GATEWAY_WORKERS=str(args.workers)
                ) as ours,
                mesh_server(port) as mesh,
            ):
                for name in ("Q1", "Q2", "Q3"):
                    wanted = {k: v for k, v in variables.items() if f"${k}" in OURS[name]}
                    before = cpu_seconds(ours.pid)
                    us, fields = measure(ours.url, OURS[name], wanted, upstream, requests)
                    operations = 2 + max(20, requests // 5) + requests
                    us.cpu_ms = (cpu_seconds(ours.pid) - before) * 1000 / operations
                    us.field_us = us.cpu_ms * 1000 / max(1, fields)
                    them, _ = measure(mesh, MESH_QUERIES[name], wanted, upstream, requests)
                    print(
                        f"| {name} | {latency * 1000:.0f} ms | {us.calls:.0f}/{them.calls:.0f} "
                        f"| {us.p50:.1f}/{them.p50:.1f} ({us.p50 / them.p50:.2f}) "
                        f"| {us.p99:.1f}/{them.p99:.1f} "
                        f"| {us.rps:.0f}/{them.rps:.0f} ({us.rps / them.rps:.2f}) "
                        f"| {us.cpu_ms:.2f} | {us.field_us:.1f} |",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
