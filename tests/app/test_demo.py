"""`make demo` as a newcomer runs it: `studio-gateway demo --live`, a real process.

The banner names a subscription; run over a real WebSocket, it sees the
executions the emulator starts arrive through signed Event Streams webhooks.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.support import SLACK, free_port, until_blocking
from tests.support.graphql_ws import PROTOCOL


@dataclass
class Demo:
    url: str
    output: Path
    process: subprocess.Popen[bytes]

    def log(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")


@pytest.fixture
def demo() -> Iterator[Demo]:
    """The demo on free ports, starting an execution every half second."""
    port, emulator_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "STUDIO_"))}
    with tempfile.TemporaryDirectory(prefix="studio-gateway-demo-") as folder:
        output = Path(folder) / "output"
        with output.open("wb") as sink:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gateway",
                    "demo",
                    "--live",
                    "0.5",
                    "--port",
                    str(port),
                    "--emulator-port",
                    str(emulator_port),
                ],
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                assert process.poll() is None, output.read_text()
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, output.read_text()
                time.sleep(0.1)
            yield Demo(url, output, process)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_the_demos_suggested_subscription_sees_live_executions(demo: Demo) -> None:
    url = demo.url
    banner = demo.log()
    assert f"{url}/graphql" in banner
    suggested = re.search(r"subscription \{.*?\n\}", banner, re.S)
    assert suggested is not None, banner

    async def watch() -> list[dict[str, object]]:
        updates: list[dict[str, object]] = []
        ws_url = url.replace("http://", "ws://") + "/graphql"
        async with connect(ws_url, subprotocols=[PROTOCOL]) as socket:
            await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
            assert json.loads(await socket.recv())["type"] == "connection_ack"
            subscribe = {"query": suggested.group(0)}
            await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": subscribe}))
            async with asyncio.timeout(SLACK * 4):
                while not any(u.get("status") == "ENDED" for u in updates):
                    message = json.loads(await socket.recv())
                    if message["type"] == "ping":
                        continue
                    assert message["type"] == "next", message
                    updates.append(message["payload"]["data"]["flowExecutions"])
        return updates

    updates = asyncio.run(watch())
    assert {u["status"] for u in updates} >= {"ACTIVE", "ENDED"}
    assert all(str(u["sid"]).startswith("FN") for u in updates)


def test_ctrl_c_ends_the_live_demo_at_once_and_it_posts_nothing_more(demo: Demo) -> None:
    webhook = "path=/webhooks/twilio/events"
    until_blocking(lambda: webhook in demo.log(), SLACK * 2)  # the live mode is posting

    demo.process.send_signal(signal.SIGINT)

    # At once: the live mode and both servers stop (the rest is the interpreter's exit).
    assert demo.process.wait(SLACK * 3) == 0, demo.log()
    log = demo.log()
    assert "Traceback" not in log and "Error" not in log, log
    assert log.rstrip().endswith("Demo stopped."), log
    # The live mode stopped before either server began to: no delivery met a closed port.
    assert webhook not in log.split("Shutting down", 1)[1], log
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{demo.url}/healthz", timeout=1)
