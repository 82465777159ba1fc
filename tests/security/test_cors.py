"""CORS preflights: the headers real browser clients send are allowed, others refused."""

from __future__ import annotations

import httpx
import pytest

from gateway.emulator import Emulator
from tests.support import secured

APP = "https://app.example.com"

#: What Apollo Client, OpenTelemetry and Sentry browser SDKs, and the gateway's
#: own clients put on a cross-origin request.
CLIENT_HEADERS = [
    "content-type",
    "authorization",
    "x-api-key",
    "x-request-id",
    "x-cost-only",
    "apollographql-client-name",
    "apollographql-client-version",
    "apollo-require-preflight",
    "x-apollo-operation-name",
    "traceparent",
    "tracestate",
    "baggage",
    "sentry-trace",
]


async def preflight(http: httpx.AsyncClient, headers: str, method: str = "POST") -> httpx.Response:
    return await http.options(
        "/graphql",
        headers={
            "Origin": APP,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers,
        },
    )


@pytest.mark.parametrize("header", CLIENT_HEADERS)
async def test_a_preflight_for_each_header_real_clients_send_is_allowed(
    emulator: Emulator, header: str
) -> None:
    async with secured(emulator, cors_origins=APP) as http:
        response = await preflight(http, header)
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == APP
    allowed = {
        h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")
    }
    assert header in allowed


async def test_a_preflight_for_all_of_them_at_once_is_allowed(emulator: Emulator) -> None:
    # A GET from Apollo Client with client awareness and tracing asks for all at once.
    async with secured(emulator, cors_origins=APP) as http:
        response = await preflight(http, ", ".join(CLIENT_HEADERS), method="GET")
    assert response.status_code == 200, response.text


async def test_a_preflight_for_an_unlisted_header_is_refused(emulator: Emulator) -> None:
    async with secured(emulator, cors_origins=APP) as http:
        response = await preflight(http, "content-type, x-not-on-the-list")
    assert response.status_code == 400
    assert "access-control-allow-headers" not in response.headers or (
        "x-not-on-the-list" not in response.headers["access-control-allow-headers"].lower()
    )


async def test_the_preflight_answer_may_be_kept_for_the_configured_time(
    emulator: Emulator,
) -> None:
    async with secured(emulator, cors_origins=APP) as http:
        default = await preflight(http, "content-type")
    async with secured(emulator, cors_origins=APP, cors_max_age=86400) as http:
        configured = await preflight(http, "content-type")
    assert default.headers["access-control-max-age"] == "600"
    assert configured.headers["access-control-max-age"] == "86400"


async def test_the_allowed_headers_are_a_setting(emulator: Emulator) -> None:
    async with secured(
        emulator, cors_origins=APP, cors_allow_headers="Content-Type, X-Tenant"
    ) as http:
        added = await preflight(http, "x-tenant")
        dropped = await preflight(http, "traceparent")
    assert added.status_code == 200
    assert dropped.status_code == 400
