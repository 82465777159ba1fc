"""Soak: idle, load, idle, load, idle; does the gateway give back what it took?

    python -m bench.soak                         # 2 × 120 s of load, 20 s idles
    python -m bench.soak --load 600 --idle 60 --cycles 3 --samples soak.json

The seeded emulator and the gateway run as their own processes on 127.0.0.1;
the load is `bench.load`'s mix, with a few clients hanging up mid-request
(`--hangups`) so the cancellation paths run too. Every second the gateway process is sampled
from /proc: resident memory, open file descriptors, and how many of those are
sockets. Exits non-zero when

- memory keeps growing: the least-squares slope of RSS from the start of the
  second load phase to the end is above `--max-growth` MB per minute (the
  first phase is warm-up: caches fill, the allocator settles), or RSS at the
  end of the last idle is above the end of the first idle by more than
  `--max-rss-gain` MB;
- descriptors or sockets are left behind: after each load phase and its idle,
  the count is above the one after the first idle by more than `--slack`, or
  the first idle keeps more sockets than the upstream keep-alive pool
  (`--pool`) can explain;
- the load saw errors above `--max-error-rate`.

The in-process cache is off by default: with it on, RSS grows by design until
the cache holds its 50,000 entries (new executions keep adding cacheable
steps), which this check cannot tell from a leak; use `--cache` with a higher
`--max-growth`, or a long enough soak for it to fill.

Linux only (/proc). The gateway cannot report its asyncio task count yet
(`Sample.tasks` stays None until it exposes one).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from bench.common import emulator_process, gateway_server
from bench.load import Seeds, Stats, discover, run_load

#: Gauges read from the gateway's /metrics when it has them.
TASKS_GAUGE = "studio_gateway_asyncio_tasks"
IN_FLIGHT_GAUGE = "studio_gateway_upstream_in_flight"


@dataclass
class Sample:
    at: float  # seconds since the soak started
    phase: str  # "idle-0", "load-1", "idle-1", ...
    rss_mb: float
    fds: int
    sockets: int
    tasks: int | None = None  # asyncio tasks, once the gateway exports them
    upstream_in_flight: int | None = None


async def read_gauges(http: httpx.AsyncClient, *names: str) -> dict[str, int]:
    """Unlabelled gauges from /metrics (Prometheus text); missing ones are left out."""
    try:
        text = (await http.get("/metrics")).text
    except httpx.HTTPError:
        return {}
    found: dict[str, int] = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in names:
            found[name] = int(float(value))
    return found


def sample(pid: int, started: float, phase: str) -> Sample:
    rss_kb = 0
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss_kb = int(line.split()[1])
                break
    fds = sockets = 0
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue  # closed between listing and reading
        fds += 1
        sockets += target.startswith("socket:")
    return Sample(round(time.monotonic() - started, 1), phase, rss_kb / 1024, fds, sockets, None)


def slope_per_minute(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x (seconds), per minute."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    if var == 0:
        return 0.0
    cov = sum((x - mean_x) * (y - mean_y) for x, y in points)
    return cov / var * 60


async def sampler(url: str, pid: int, started: float, phase: list[str], out: list[Sample]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=5) as http:
        while True:
            taken = sample(pid, started, phase[0])
            gauges = await read_gauges(http, TASKS_GAUGE, IN_FLIGHT_GAUGE)
            taken.tasks = gauges.get(TASKS_GAUGE)
            taken.upstream_in_flight = gauges.get(IN_FLIGHT_GAUGE)
            out.append(taken)
            print(_row(taken), flush=True)
            await asyncio.sleep(1.0)


def _row(s: Sample) -> str:
    tasks = "-" if s.tasks is None else s.tasks
    return (
        f"{s.at:7.1f}s {s.phase:7} rss {s.rss_mb:7.1f} MB  fds {s.fds:4}  "
        f"sockets {s.sockets:4}  tasks {tasks:>4}  upstream in flight {s.upstream_in_flight}"
    )


async def soak(
    url: str, pid: int, *, cycles: int, load: float, idle: float, clients: int, hangups: float
) -> tuple[list[Sample], list[Stats]]:
    samples: list[Sample] = []
    phase = ["idle-0"]
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        seeds: Seeds = await discover(http)
    task = asyncio.create_task(sampler(url, pid, started, phase, samples))
    stats: list[Stats] = []
    try:
        await asyncio.sleep(idle)
        for cycle in range(1, cycles + 1):
            phase[0] = f"load-{cycle}"
            stats.append(
                await run_load(
                    url, duration=load, clients=clients, seed=cycle, seeds=seeds, hangups=hangups
                )
            )
            phase[0] = f"idle-{cycle}"
            await asyncio.sleep(idle)
    finally:
        task.cancel()
        await asyncio.wait({task})
    return samples, stats


def verdict(samples: list[Sample], stats: list[Stats], args: argparse.Namespace) -> list[str]:
    """What went wrong; empty when the soak passed."""
    problems: list[str] = []

    def last_of(phase: str) -> Sample:
        return [s for s in samples if s.phase == phase][-1]

    after_warmup = [
        (s.at, s.rss_mb) for s in samples if s.phase not in ("idle-0", "load-1", "idle-1")
    ]
    growth = slope_per_minute(after_warmup)
    if growth > args.max_growth:
        problems.append(f"RSS grows {growth:.2f} MB/min after warm-up (limit {args.max_growth})")
    first, last = last_of("idle-1"), last_of(f"idle-{args.cycles}")
    if last.rss_mb - first.rss_mb > args.max_rss_gain:
        problems.append(
            f"RSS after the last idle is {last.rss_mb - first.rss_mb:.1f} MB above the first "
            f"(limit {args.max_rss_gain})"
        )
    before = last_of("idle-0")
    kept = first.sockets - before.sockets
    if kept > args.pool + args.slack:
        problems.append(
            f"{kept} more sockets after the first cycle than before it: more than the "
            f"upstream keep-alive pool ({args.pool})"
        )
    for cycle in range(2, args.cycles + 1):
        now = last_of(f"idle-{cycle}")
        for what in ("fds", "sockets", "tasks"):
            if getattr(now, what) is None or getattr(first, what) is None:
                continue  # not exported (tasks, until the gateway has the gauge)
            gained = getattr(now, what) - getattr(first, what)
            if gained > args.slack:
                problems.append(f"{gained} more {what} after cycle {cycle} than after cycle 1")
    for cycle in range(1, args.cycles + 1):
        left = last_of(f"idle-{cycle}").upstream_in_flight
        if left:
            problems.append(f"{left} upstream calls still in flight after idle {cycle}")
    for cycle, run in enumerate(stats, 1):
        rate = run.failed / run.operations if run.operations else 1.0
        if rate > args.max_error_rate:
            problems.append(f"error rate {rate:.2%} in load phase {cycle} {dict(run.errors)}")
    return problems


def summary(samples: list[Sample], stats: list[Stats]) -> dict[str, Any]:
    by_phase: dict[str, dict[str, Any]] = {}
    for s in samples:
        row = by_phase.setdefault(s.phase, {"rss_mb": [], "fds": [], "sockets": []})
        row["rss_mb"].append(s.rss_mb)
        row["fds"].append(s.fds)
        row["sockets"].append(s.sockets)
    return {
        "phases": {
            phase: {
                "rss_mb_end": round(row["rss_mb"][-1], 1),
                "rss_mb_max": round(max(row["rss_mb"]), 1),
                "fds_end": row["fds"][-1],
                "fds_max": max(row["fds"]),
                "sockets_end": row["sockets"][-1],
                "sockets_max": max(row["sockets"]),
            }
            for phase, row in by_phase.items()
        },
        "rss_slope_mb_per_min_after_warmup": round(
            slope_per_minute(
                [(s.at, s.rss_mb) for s in samples if s.phase not in ("idle-0", "load-1", "idle-1")]
            ),
            3,
        ),
        "load": [run.report() for run in stats],
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cycles", type=int, default=2, help="load phases (2 or more)")
    parser.add_argument("--load", type=float, default=120.0, help="seconds per load phase")
    parser.add_argument("--idle", type=float, default=20.0, help="seconds per idle phase")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.02, help="upstream seconds/request")
    parser.add_argument(
        "--cache",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="the in-process cache (off by default: it grows, by design, up to its bound)",
    )
    parser.add_argument(
        "--hangups", type=float, default=0.02, help="fraction of reads abandoned mid-request"
    )
    parser.add_argument("--pool", type=int, default=20, help="upstream keep-alive pool size")
    parser.add_argument("--max-growth", type=float, default=1.0, help="RSS MB/min after warm-up")
    parser.add_argument("--max-rss-gain", type=float, default=15.0, help="MB, last vs first idle")
    parser.add_argument("--slack", type=int, default=2, help="fds/sockets allowed to differ")
    parser.add_argument("--max-error-rate", type=float, default=0.001)
    parser.add_argument("--samples", help="write every sample to this JSON file")
    args = parser.parse_args(argv)
    if args.cycles < 2:
        parser.error("--cycles must be 2 or more: the first is warm-up")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not os.path.isdir("/proc/self/fd"):
        print("bench.soak reads /proc: run it on Linux", file=sys.stderr)
        return 2
    with (
        emulator_process(latency=args.latency) as upstream,
        gateway_server(upstream.url, cache=args.cache) as gateway,
    ):
        samples, stats = asyncio.run(
            soak(
                gateway.url,
                gateway.pid,
                cycles=args.cycles,
                load=args.load,
                idle=args.idle,
                clients=args.clients,
                hangups=args.hangups,
            )
        )
    if args.samples:
        with open(args.samples, "w") as out:
            json.dump([asdict(s) for s in samples], out)
    print(json.dumps(summary(samples, stats), indent=2))
    problems = verdict(samples, stats, args)
    for problem in problems:
        print(f"FAIL: {problem}", file=sys.stderr)
    if not problems:
        print("PASS: memory, descriptors and sockets came back after every cycle")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
