"""The gateway beside GraphQL Mesh, on the same emulator, query for query.

    python -m bench.mesh                                   # one process each, 0 and 50 ms
    python -m bench.mesh --workers 1 --workers 2 --quick   # one, then two each; fewer requests

Mesh (Mesh Compose + Hive Gateway, with the three hand-written `@resolveTo`
links of `bench/mesh/mesh.config.ts`, so Q1 and Q2 are one request there too)
is installed from `bench/mesh/package-lock.json` with `npm ci` on first use
(into the git-ignored `bench/mesh/node_modules`; Node 20). Both serve the same
emulator process (5 flows x 40 executions x up to 12 steps). `--workers N`
runs N uvicorn workers of ours beside Hive Gateway with `--fork N` (one Node
process for N=1, a cluster primary and N workers above). For each query,
upstream latency and process count it prints, for both: upstream calls per
query (of a request alone, and averaged over the concurrency-16 run, where
requests overlap and can share fetches), p50/p99 at concurrency 1, requests per
second at concurrency 16, CPU milliseconds per operation (the server and its
workers, from /proc) and our/Mesh ratios; for us also CPU microseconds per
resolved field; and failed answers of each (counted, not fatal, and left out
of latency and req/s; the first one goes to stderr).

Each side is measured on its own (never both at once), and the emulator's
counters are reset right before each counted run, so a count holds only the
calls of that side's run. Our shared cache is off (no Redis, TTL 0): what we
save is what single flight and the per-request loaders save.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import math
import os
import signal
import statistics
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    GatewayProcess,
    Upstream,
    _wait,
    emulator_process,
    gateway_server,
    percentile,
)
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
    calls_alone: float
    calls_loaded: float
    p50: float
    p99: float
    rps: float
    cpu_ms: float
    fields: int
    errors: int


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
def mesh_server(upstream_port: int, processes: int = 1) -> Iterator[GatewayProcess]:
    """Hive Gateway serving the linked Mesh supergraph, in front of the emulator.

    With `processes` above 1, Hive Gateway's `--fork`: a cluster of that many workers.
    """
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
        [*command, "-h", "127.0.0.1", "-p", str(port), "--fork", str(processes)],
        cwd=MESH,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # Its own process group, so its cluster workers stop with it.
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(url, process, "/healthcheck")
        yield GatewayProcess(url, process.pid)
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process and its group; SIGKILL whatever is left after 10 s.

    Hive Gateway's cluster primary waits on its workers, which do not always end on
    SIGTERM, so each gets the signal itself and a deadline.
    """
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


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
    server: GatewayProcess,
    document: str,
    variables: dict[str, Any],
    upstream: Upstream,
    requests: int,
) -> Row:
    """One server's row for one query; nothing else talks to the emulator meanwhile."""
    url = server.url
    cpu_before = cpu_seconds(server.pid)
    answer = httpx.post(f"{url}/graphql", json={"query": document, "variables": variables})
    body = answer.json()
    if answer.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"query failed: {str(body)[:300]}")
    upstream.reset()
    asyncio.run(drive(url, document, variables, 1, 1))
    calls_alone = upstream.calls()
    singles = max(20, requests // 5)
    failures: list[str] = []
    single, _ = asyncio.run(drive(url, document, variables, singles, 1, failures))
    upstream.reset()
    loaded, elapsed = asyncio.run(drive(url, document, variables, requests, 16, failures))
    calls_loaded = upstream.calls() / requests
    cpu_ms = (cpu_seconds(server.pid) - cpu_before) * 1000 / (2 + singles + requests)
    if failures:
        print(f"{url}: {len(failures)} failed, the first: {failures[0]}", file=sys.stderr)
    return Row(
        calls_alone,
        calls_loaded,
        statistics.median(single) if single else math.nan,
        percentile(single, 0.99) if single else math.nan,
        len(loaded) / elapsed,
        cpu_ms,
        fields_in(body["data"]),
        len(failures),
    )


def line(name: str, latency: float, processes: str, us: Row, them: Row) -> str:
    """One row of the printed table."""
    return (
        f"| {name} | {latency * 1000:.0f} ms | {processes} "
        f"| {us.calls_alone:.0f}/{them.calls_alone:.0f} "
        f"| {us.calls_loaded:.1f}/{them.calls_loaded:.1f} "
        f"| {us.p50:.1f}/{them.p50:.1f} ({us.p50 / them.p50:.2f}) "
        f"| {us.p99:.1f}/{them.p99:.1f} "
        f"| {us.rps:.0f}/{them.rps:.0f} ({us.rps / them.rps:.2f}) "
        f"| {us.cpu_ms:.2f}/{them.cpu_ms:.2f} ({us.cpu_ms / them.cpu_ms:.2f}) "
        f"| {us.cpu_ms * 1000 / max(1, us.fields):.1f} | {us.errors}/{them.errors} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--workers",
        type=int,
        action="append",
        help="our uvicorn workers and Mesh's --fork (repeat for several runs; default 1)",
    )
    parser.add_argument("--quick", action="store_true", help="fewer requests")
    parser.add_argument("--latency", type=float, action="append", help="upstream seconds")
    args = parser.parse_args()
    requests = 80 if args.quick else 400
    variables = sids()
    print(
        "| query | upstream | processes us/Mesh | calls/query alone us/Mesh "
        "| calls/query at c=16 us/Mesh | p50 ms c=1 us/Mesh (ratio) | p99 ms c=1 us/Mesh "
        "| req/s c=16 us/Mesh (ratio) | CPU ms/op us/Mesh (ratio) | our CPU µs/field "
        "| errors us/Mesh |\n|---|---|---|---|---|---|---|---|---|---|---|",
        flush=True,
    )
    for latency in args.latency or [0.0, 0.05]:
        with emulator_process(latency=latency, **SIZES) as upstream:
            port = int(upstream.url.rsplit(":", 1)[1])
            for workers in args.workers or [1]:
                with (
                    gateway_server(
                        upstream.url, cache=False, STUDIO_GATEWAY_WORKERS=str(workers)
                    ) as ours,
                    mesh_server(port, workers) as mesh,
                ):
                    processes = f"{workers}/{workers}" + (" (fork)" if workers > 1 else "")
                    for name in ("Q1", "Q2", "Q3"):
                        wanted = {k: v for k, v in variables.items() if f"${k}" in OURS[name]}
                        us = measure(ours, OURS[name], wanted, upstream, requests)
                        them = measure(mesh, MESH_QUERIES[name], wanted, upstream, requests)
                        print(line(name, latency, processes, us, them), flush=True)


if __name__ == "__main__":
    main()
