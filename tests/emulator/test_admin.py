"""The emulator's admin route: counters another process can read and reset."""

from __future__ import annotations

import httpx

from gateway.emulator import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, Emulator, create_app


async def test_admin_counters_are_readable_and_resettable_only_when_asked_for() -> None:
    emulator = Emulator.seeded(seed=7, flows=5, executions_per_flow=2, steps_per_execution=2)
    auth = (DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN)
    transport = httpx.ASGITransport(app=create_app(emulator, admin=True))
    async with httpx.AsyncClient(transport=transport, base_url="http://emu") as http:
        await http.get("/v2/Flows", auth=auth)
        await http.get("/v2/Flows", auth=auth)
        counters = (await http.get("/_emulator/requests")).json()
        assert counters["total"] == 2
        assert counters["by_route"] == {"GET /v2/Flows": 2}
        assert (await http.delete("/_emulator/requests")).json()["total"] == 0
    plain = httpx.ASGITransport(app=create_app(emulator))
    async with httpx.AsyncClient(transport=plain, base_url="http://emu") as http:
        assert (await http.get("/_emulator/requests")).status_code == 404
