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
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.support import SLACK, free_port
from tests.support.graphql_ws import PROTOCOL


@pytest.fixture
def demo() -> Iterator[tuple[str, Path]]:
    """The demo on free ports, starting an execution every half second; its URL and output."""
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
            yield url, output
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_the_demos_suggested_subscription_sees_live_executions(
    demo: tuple[str, Path],
) -> None:
    url, output = demo
    banner = output.read_text()
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
