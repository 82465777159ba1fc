"""For the events tests: records as Twilio's Event Streams would carry them."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
from starlette.applications import Starlette

from gateway.app import create_app
from gateway.cache import RedisCache
from gateway.emulator import Emulator
from gateway.events.model import EXECUTION_ENDED, STEP_ENDED, StudioEvent
from gateway.runtime import Gateway
from gateway.studio.records import Execution, ExecutionStatus, ExecutionStep
from tests.support.emulator import asgi_transport
from tests.support.gateway import gateway_settings
from tests.support.servers import with_state

ACCOUNT = "AC" + "a" * 32
FLOW = "FW" + "b" * 32
EXECUTION = "FN" + "c" * 32
#: Stands for a contact's address: it must never reach Redis or a log in clear.
CONTACT = "+15550001111"
REDIS_URL = "redis://127.0.0.1:6379/0"


def step_event(n: int, account_sid: str = ACCOUNT) -> StudioEvent:
    when = datetime(2026, 6, 10, 6, 2, n, tzinfo=UTC)
    step = ExecutionStep(
        sid="FT" + f"{n:032x}",
        account_sid=account_sid,
        flow_sid=FLOW,
        execution_sid=EXECUTION,
        parent_step_sid=None,
        name="incomingRequest",
        context=None,
        transitioned_from="Trigger",
        transitioned_to="send",
        type=None,
        date_created=when,
        date_updated=None,
        url=None,
    )
    return StudioEvent(f"EZ{n}", STEP_ENDED, when, account_sid, FLOW, EXECUTION, step=step)


def ended_event(account_sid: str = ACCOUNT) -> StudioEvent:
    when = datetime(2026, 6, 10, 6, 3, tzinfo=UTC)
    execution = Execution(
        sid=EXECUTION,
        account_sid=account_sid,
        flow_sid=FLOW,
        contact_channel_address=CONTACT,
        contact_sid=None,
        flow_version=3,
        context=None,
        status=ExecutionStatus.ENDED,
        date_created=when,
        date_updated=when,
        initiated_by="RQ" + "e" * 32,
        url=None,
    )
    return StudioEvent("EZend", EXECUTION_ENDED, when, account_sid, FLOW, EXECUTION, execution)


@contextlib.asynccontextmanager
async def running(app: Starlette) -> AsyncIterator[tuple[Gateway, httpx.AsyncClient]]:
    """The app inside its lifespan, its Gateway, and an httpx client to it over ASGI
    (handing each request the lifespan state, as a server does)."""
    async with app.router.lifespan_context(app) as state:
        assert state is not None
        transport = httpx.ASGITransport(app=with_state(app, state))
        async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as http:
            yield state["gateway"], http


def events_app(
    emulator: Emulator, *, cache: RedisCache | None = None, **settings: Any
) -> Starlette:
    """A gateway receiving Event Streams webhooks, on the emulator."""
    values: dict[str, Any] = {"events": True, "cache_ttl": 3600, **settings}
    return create_app(gateway_settings(**values), transport=asgi_transport(emulator), cache=cache)
