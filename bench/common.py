"""What the benchmarks share: the emulator and the gateway as their own processes,
the emulator's request counters over HTTP, and latency arithmetic."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx

from gateway.emulator import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN
from tests.support import free_port


@dataclass
class Upstream:
    """The seeded emulator in its own process."""

    url: str

    def calls(self) -> int:
        return int(httpx.get(f"{self.url}/_emulator/requests").json()["total"])

    def reset(self) -> None:
        httpx.delete(f"{self.url}/_emulator/requests")


def _wait(url: str, process: subprocess.Popen[bytes], path: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}")
        try:
            httpx.get(f"{url}{path}", timeout=0.5)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "STUDIO_GATEWAY_"))}
    env.update(TWILIO_ACCOUNT_SID=DEMO_ACCOUNT_SID, TWILIO_AUTH_TOKEN=DEMO_AUTH_TOKEN, **extra)
    return env


@contextlib.contextmanager
def emulator_process(
    *, latency: float = 0.0, flows: int = 12, executions: int = 40, steps: int = 8
) -> Iterator[Upstream]:
    port = free_port()
    command = [
        sys.executable, "-m", "gateway", "emulator", "--port", str(port), "--admin",
        "--latency", str(latency), "--flows", str(flows), "--executions", str(executions),
        "--steps", str(steps),
    ]  # fmt: skip
    process = subprocess.Popen(
        command, env=_clean_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(url, process, "/_emulator/requests")
        yield Upstream(url)
    finally:
        process.terminate()
        process.wait(10)


@dataclass
class GatewayProcess:
    """The gateway in its own process: where it listens, and its pid (for /proc)."""

    url: str
    pid: int


@contextlib.contextmanager
def gateway_process(upstream: str, *, cache: bool, **settings: str) -> Iterator[str]:
    with gateway_server(upstream, cache=cache, **settings) as gateway:
        yield gateway.url


@contextlib.contextmanager
def gateway_server(upstream: str, *, cache: bool, **settings: str) -> Iterator[GatewayProcess]:
    """`studio-gateway serve` on a free port of 127.0.0.1, in front of `upstream`."""
    port = free_port()
    env = _clean_env(
        STUDIO_GATEWAY_UPSTREAM_URL=upstream,
        STUDIO_GATEWAY_CACHE_TTL="3600" if cache else "0",
        STUDIO_GATEWAY_LOG_LEVEL="warning",
        STUDIO_GATEWAY_MAX_IN_FLIGHT="200",
        STUDIO_GATEWAY_MAX_COST="100000",
        **settings,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(url, process, "/healthz")
        yield GatewayProcess(url, process.pid)
    finally:
        process.terminate()
        process.wait(10)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
