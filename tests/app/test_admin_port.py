"""`STUDIO_GATEWAY_ADMIN_PORT`: the probes and the metrics on a port of their own, and
`/metrics` off the public port; unset, all of them on the public port as before."""

from __future__ import annotations

import httpx

from gateway.emulator import Emulator
from tests.support import free_port
from tests.support.live import served


async def test_the_admin_port_serves_the_probes_and_the_metrics_and_the_public_port_no_metrics(
    emulator: Emulator,
) -> None:
    port = free_port()
    async with (
        served(emulator, admin_port=port) as gateway,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as admin,
        httpx.AsyncClient(base_url=gateway.http, timeout=10) as public,
    ):
        assert (await public.post("/graphql", json={"query": "{ __typename }"})).is_success
        metrics = await admin.get("/metrics")
        probes = [await admin.get(path) for path in ("/healthz", "/readyz")]
        hidden = await public.get("/metrics")
        public_probes = [await public.get(path) for path in ("/healthz", "/readyz")]
    assert metrics.status_code == 200
    assert "studio_gateway_graphql_requests_total" in metrics.text
    assert [p.status_code for p in probes] == [200, 200]
    assert probes[1].json()["status"] == "ready"
    assert hidden.status_code == 404
    # Load balancers that probe the port they send traffic to still can.
    assert [p.status_code for p in public_probes] == [200, 200]


async def test_without_an_admin_port_everything_stays_on_the_public_port(
    emulator: Emulator,
) -> None:
    async with (
        served(emulator) as gateway,
        httpx.AsyncClient(base_url=gateway.http, timeout=10) as public,
    ):
        answers = [await public.get(path) for path in ("/healthz", "/readyz", "/metrics")]
    assert [a.status_code for a in answers] == [200, 200, 200]


async def test_the_admin_port_closes_with_the_gateway(emulator: Emulator) -> None:
    port = free_port()
    async with served(emulator, admin_port=port):
        pass
    async with httpx.AsyncClient(timeout=5) as client:
        try:
            await client.get(f"http://127.0.0.1:{port}/healthz")
        except httpx.ConnectError:
            return
    raise AssertionError("the admin port still answers after the gateway stopped")
