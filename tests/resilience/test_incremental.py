"""Deferred parts under the request deadline and a client that hangs up, over real sockets.

A deferred part is computed while the answer streams, after the first part
went out; the request deadline and the end of upstream calls for a departed
client must reach it there too.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.emulator import Emulator
from gateway.studio import ClientConfig, Timeouts, Transport
from tests.support import MULTIPART_ACCEPT, RETRY, gateway_settings, multipart_parts, serve, until

STEP_CONTEXT = "/v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Steps/{StepSid}/Context"

EXECUTION = """query($f: ID!, $e: ID!) { execution(flowSid: $f, sid: $e) { sid status
  ... @defer { steps(first: 3) { nodes { name context } } } } }"""


@contextlib.contextmanager
def served(emulator_url: str, **settings: Any) -> Iterator[tuple[str, Transport]]:
    """The gateway app on a real socket; upstream calls that would wait 30 s for a hung answer."""
    config = ClientConfig(
        base_url=emulator_url, retry=RETRY, timeouts=Timeouts(read=30, deadline=30)
    )
    transport = Transport(config)
    app = create_app(gateway_settings(upstream_url=emulator_url, **settings), transport=transport)
    with serve(app) as url:
        yield url, transport


@pytest.fixture
def operation_logs() -> Iterator[list[logging.LogRecord]]:
    """The "graphql operation" lines the gateway logs (it runs in the server's thread)."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage() == "graphql operation":
                records.append(record)

    handler = Keep()
    logger = logging.getLogger("gateway.requests")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def ended(emulator: Emulator) -> dict[str, str]:
    flow, execution = emulator.seeded_handles.ended_execution
    return {"f": flow, "e": execution}


def request(emulator: Emulator) -> dict[str, Any]:
    return {
        "json": {"query": EXECUTION, "variables": ended(emulator)},
        "headers": {"Accept": MULTIPART_ACCEPT},
    }


async def test_a_deferred_part_still_waiting_at_the_deadline_times_out_in_its_part(
    emulator: Emulator, emulator_url: str
) -> None:
    emulator.faults.enqueue("hang", count=10, route=STEP_CONTEXT)
    with served(emulator_url, request_deadline=1.0) as (url, transport):
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            started = time.monotonic()
            async with http.stream("POST", "/graphql", **request(emulator)) as response:
                parts = multipart_parts(response)
                first = await anext(parts)
                # The header is here while the deferred part still waits on Twilio.
                await until(lambda: emulator.in_flight >= 1)
                assert first["data"]["execution"]["status"] == "ENDED"
                assert first["hasNext"] is True
                later = [part async for part in parts]
            elapsed = time.monotonic() - started

        assert elapsed < 5, "the stream ends at the request deadline, not the call's 30 s"
        (piece,) = [piece for part in later for piece in part.get("incremental", [])]
        assert later[-1]["hasNext"] is False
        assert piece["path"] == ["execution"]
        steps = piece["data"]["steps"]["nodes"]
        assert steps and all(s["name"] and s["context"] is None for s in steps)
        assert {e["extensions"]["code"] for e in piece["errors"]} == {"UPSTREAM_TIMEOUT"}
        assert [e["path"][-1] for e in piece["errors"]] == ["context"] * len(steps)
        await until(lambda: emulator.in_flight == 0 and transport.in_flight == 0)


async def test_a_client_that_hangs_up_mid_answer_stops_the_deferred_calls(
    emulator: Emulator, emulator_url: str, operation_logs: list[logging.LogRecord]
) -> None:
    emulator.faults.enqueue("hang", count=10, route=STEP_CONTEXT)
    with served(emulator_url, request_deadline=0) as (url, transport):
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            async with http.stream("POST", "/graphql", **request(emulator)) as response:
                async with contextlib.aclosing(multipart_parts(response)) as parts:
                    first = await anext(parts)
                    await until(lambda: emulator.in_flight >= 1)
            # Leaving the block closes the connection with the answer half read.
        assert first["hasNext"] is True

        # Every deferred call of that request ends, long before its own 30 s.
        await until(lambda: emulator.in_flight == 0 and transport.in_flight == 0, 2.0)
        assert transport.single_flight.stats.in_flight == 0
        calls = emulator.total_requests
        # The operation is still measured and logged, once, when it has ended: by
        # then nothing of it can start another call.
        await until(lambda: len(operation_logs) == 1)
        assert emulator.total_requests == calls, "no call starts after the client left"
