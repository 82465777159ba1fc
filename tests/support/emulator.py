"""The emulator as the tests use it: a transport to it over ASGI, its seeded
personal data, its requests held in flight, and the smallest valid flow."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from gateway.emulator import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, Emulator, create_app
from gateway.studio import ClientConfig, RetryPolicy, Transport
from gateway.studio.wire import HttpxWire, WireConfig

#: Small, fast retries for tests: same policy, shorter waits.
FAST_RETRY = RetryPolicy(max_attempts=3, backoff=0.01, max_backoff=0.05)
#: The emulator's own tests lay its seeded history out before this moment, so
#: every test sees the same data.
SEEDED_AT = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
#: The demo account's credentials, as httpx's `auth`.
AUTH = (DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN)


def asgi_transport(emulator: Emulator, config: ClientConfig | None = None) -> Transport:
    config = config or ClientConfig(base_url="http://emulator.test", retry=FAST_RETRY)
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(emulator)), base_url=config.base_url
    )
    return Transport(config, wire=HttpxWire(http, WireConfig.of(config)))


def seeded_pii() -> set[str]:
    """The personal data the suite's seeded accounts hold: addresses and context values."""
    values: set[str] = set()
    authored: set[str] = set()
    for emulator in (
        Emulator.seeded(seed=7, flows=5, executions_per_flow=8, steps_per_execution=5),
        Emulator.seeded(seed=7),  # the demo's and the CLI's account
    ):
        for flow in emulator.account(emulator.account_sid).flows.values():
            for revision in flow.revisions:
                authored.update(strings_in(revision.definition))
            for execution in flow.executions.values():
                values.add(execution.contact_channel_address)
                values.update(strings_in(execution.base_context))
                for step in execution.steps:
                    values.update(strings_in(step.output))
                    values.update(strings_in(step.variables))
    # Short words ("yes", "sent") are widget vocabulary, SIDs are identifiers and
    # what a flow's definition says ("application/json") is the flow author's:
    # none of it is anybody's data.
    text = "\n".join(authored)
    return {
        v
        for v in values
        if v not in text
        and len(v) >= 8
        and not re.fullmatch(r"[a-z_]+", v)
        and not re.fullmatch(r"[A-Z]{2}[0-9a-f]{32}", v)
    }


def strings_in(value: object) -> set[str]:
    """Every string in a JSON value, at any depth."""
    if isinstance(value, dict):
        return {s for v in value.values() for s in strings_in(v)}
    if isinstance(value, list):
        return {s for v in value for s in strings_in(v)}
    return {value} if isinstance(value, str) else set()


def ended_ago(emulator: Emulator, flow_sid: str, execution_sid: str, ago: timedelta) -> None:
    """Say an ended execution ended `ago` before the emulator's now: its `date_updated`,
    which Studio sets when an execution ends (zero: it ended just now)."""
    execution = emulator.account(DEMO_ACCOUNT_SID).flows[flow_sid].executions[execution_sid]
    assert execution.status == "ended", execution.status
    execution.date_updated = emulator.clock() - ago


@contextlib.contextmanager
def paused(emulator: Emulator) -> Iterator[None]:
    """Hold the emulator's requests in flight for the block (see `Emulator.paused`)."""
    emulator.paused = True
    try:
        yield
    finally:
        emulator.paused = False


def two_widget_flow(
    description: str = "A tiny flow", body: str = "Hello {{flow.data.name}}"
) -> dict[str, Any]:
    """The smallest valid flow definition: a REST trigger, then one message."""
    return {
        "description": description,
        "initial_state": "Trigger",
        "flags": {"allow_concurrent_calls": True},
        "states": [
            {
                "name": "Trigger",
                "type": "trigger",
                "transitions": [{"event": "incomingRequest", "next": "hello"}],
                "properties": {"offset": {"x": 0, "y": 0}},
            },
            {
                "name": "hello",
                "type": "send-message",
                "transitions": [{"event": "sent"}, {"event": "failed"}],
                "properties": {"body": body, "offset": {"x": 0, "y": 200}},
            },
        ],
    }
