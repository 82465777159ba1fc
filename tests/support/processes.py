"""Real `studio-gateway serve` processes: one in front of the emulator on a socket,
or several replicas on one Redis."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from gateway.emulator import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN
from tests.support.graphql import answer, operation
from tests.support.servers import free_port


def gateway_env(upstream: str, **extra: str) -> dict[str, str]:
    """The environment of a gateway process on `upstream` (this one's settings left out)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "STUDIO_GATEWAY_"))}
    env.update(
        STUDIO_GATEWAY_UPSTREAM_URL=upstream,
        TWILIO_ACCOUNT_SID=DEMO_ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=DEMO_AUTH_TOKEN,
        STUDIO_GATEWAY_LOG_LEVEL="warning",
    )
    env.update(extra)
    return env


@dataclass
class Served:
    """A gateway process: its URL, the process, and everything it wrote (stdout and stderr)."""

    url: str
    process: subprocess.Popen[bytes]
    output: Path

    def log(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> int:
        """SIGTERM, as a deployment stops it; its exit status."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=15)


@contextlib.contextmanager
def gateway_process(upstream: str, *args: str, **env: str) -> Iterator[Served]:
    """`python -m gateway serve --port N [args]` with these settings, healthy; killed after."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="studio-gateway-test-") as folder:
        output = Path(folder) / "output"
        with output.open("wb") as sink:
            process = subprocess.Popen(
                [sys.executable, "-m", "gateway", "serve", "--port", str(port), *args],
                env=gateway_env(upstream, **env),
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        served = Served(f"http://127.0.0.1:{port}", process, output)
        try:
            wait_healthy(served)
            yield served
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def wait_healthy(served: Served) -> None:
    """Until the process answers `/healthz`; fails if it exits or takes 90 s (a loaded
    machine starts a Python process slowly; a healthy one answers in about a second)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert served.process.poll() is None, served.log()
        try:
            if httpx.get(f"{served.url}/healthz", timeout=0.5).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise AssertionError("the gateway did not become healthy")


@dataclass
class Replicas:
    """Gateway processes sharing one Redis, and a GraphQL client for them."""

    served: list[Served]
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    def url(self, index: int) -> str:
        return f"{self.served[index].url}/graphql"

    def query(self, index: int, document: str, variables: dict[str, Any] | None = None) -> Any:
        """POST one operation to replica `index`; its answer."""
        return answer(self.http.post(self.url(index), json=operation(document, variables)))

    def data(self, index: int, document: str, variables: dict[str, Any] | None = None) -> Any:
        result = self.query(index, document, variables)
        assert "errors" not in result, result["errors"]
        return result["data"]


@contextlib.contextmanager
def replicas(count: int, upstream: str, redis_url: str, **env: str) -> Iterator[Replicas]:
    """`count` gateways on one upstream and one Redis, with these settings."""
    with contextlib.ExitStack() as stack:
        served = [
            stack.enter_context(
                gateway_process(upstream, STUDIO_GATEWAY_REDIS_URL=redis_url, **env)
            )
            for _ in range(count)
        ]
        group = Replicas(served)
        stack.callback(group.http.close)
        yield group
