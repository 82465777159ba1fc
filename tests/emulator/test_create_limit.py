"""The emulator enforces Twilio's limit on creating executions, per account, when asked to."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import httpx
import pytest

from gateway.emulator import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, Emulator, create_app
from gateway.emulator.limits import CreateLimit
from tests.support import SLACK, free_port, until_blocking

AUTH = (DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN)


async def create_many(
    emulator: Emulator, count: int, auth: tuple[str, str] = AUTH
) -> list[httpx.Response]:
    flow_sid = emulator.seeded_handles.survey_flow_sid
    transport = httpx.ASGITransport(app=create_app(emulator))
    async with httpx.AsyncClient(transport=transport, base_url="http://emu", auth=auth) as http:
        return await asyncio.gather(
            *(
                http.post(
                    f"/v2/Flows/{flow_sid}/Executions",
                    data={"To": f"+1415555{n:04d}", "From": "+14155550100"},
                )
                for n in range(count)
            )
        )


async def test_creates_beyond_the_limit_answer_429_with_code_20429() -> None:
    emulator = Emulator.seeded(seed=7)
    emulator.create_limit = 3
    responses = await create_many(emulator, 5)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 201, 201, 429, 429]
    refused = [r.json() for r in responses if r.status_code == 429]
    assert {body["code"] for body in refused} == {20429}
    assert emulator.throttled == {DEMO_ACCOUNT_SID: 2}
    # A refused create was never processed: no execution exists for its contact.
    flow = emulator.account(DEMO_ACCOUNT_SID).flows[emulator.seeded_handles.survey_flow_sid]
    started = {e.contact_channel_address for e in flow.executions.values()}
    for n, response in enumerate(responses):
        assert (f"+1415555{n:04d}" in started) is (response.status_code == 201)


async def test_without_a_limit_every_create_passes_and_reads_are_never_limited() -> None:
    emulator = Emulator.seeded(seed=7)
    responses = await create_many(emulator, 25)
    assert {r.status_code for r in responses} == {201}
    emulator.create_limit = 1
    transport = httpx.ASGITransport(app=create_app(emulator))
    async with httpx.AsyncClient(transport=transport, base_url="http://emu", auth=AUTH) as http:
        reads = await asyncio.gather(*(http.get("/v2/Flows") for _ in range(10)))
    assert {r.status_code for r in reads} == {200}
    assert not emulator.throttled


async def test_each_account_has_a_limit_of_its_own() -> None:
    emulator = Emulator.seeded(seed=7)
    other_sid, other_token = "AC" + "ab" * 16, "other-token"
    emulator.add_account(
        other_sid, other_token, flows=5, executions_per_flow=3, steps_per_execution=3
    )
    emulator.create_limit = 2
    mine = await create_many(emulator, 2)
    assert {r.status_code for r in mine} == {201}
    other_flow = next(iter(emulator.account(other_sid).flows))
    transport = httpx.ASGITransport(app=create_app(emulator))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://emu", auth=(other_sid, other_token)
    ) as http:
        theirs = await http.post(
            f"/v2/Flows/{other_flow}/Executions", data={"To": "+14155550001", "From": "+1415555"}
        )
    assert theirs.status_code != 429
    assert DEMO_ACCOUNT_SID not in emulator.throttled and other_sid not in emulator.throttled


def test_the_bucket_refills_at_the_limit_each_second() -> None:
    now = [100.0]
    limit = CreateLimit(4, clock=lambda: now[0])
    assert [limit.admit("AC1") for _ in range(5)] == [True, True, True, True, False]
    now[0] += 0.5  # half a second: two more
    assert [limit.admit("AC1") for _ in range(3)] == [True, True, False]
    now[0] += 10  # never more than a second's worth
    assert [limit.admit("AC1") for _ in range(5)] == [True, True, True, True, False]


def test_a_fixed_window_counts_each_second_of_the_clock_afresh() -> None:
    now = [100.5]
    limit = CreateLimit(4, limiter="fixed-window", clock=lambda: now[0])
    assert [limit.admit("AC1") for _ in range(5)] == [True, True, True, True, False]
    now[0] = 100.99
    assert not limit.admit("AC1")
    now[0] = 101.0  # a new second: four more, eight within half a second
    assert [limit.admit("AC1") for _ in range(5)] == [True, True, True, True, False]
    assert limit.admit("AC2")


def test_a_sliding_window_counts_any_one_second() -> None:
    now = [100.5]
    limit = CreateLimit(4, limiter="sliding-window", clock=lambda: now[0])
    assert [limit.admit("AC1") for _ in range(2)] == [True, True]
    now[0] = 101.0
    assert [limit.admit("AC1") for _ in range(3)] == [True, True, False]
    now[0] = 101.49  # the first two still count
    assert not limit.admit("AC1")
    now[0] = 101.5
    assert [limit.admit("AC1") for _ in range(3)] == [True, True, False]


def test_an_unknown_limiter_is_refused() -> None:
    with pytest.raises(ValueError, match="token-bucket, fixed-window, sliding-window"):
        CreateLimit(4, limiter="leaky")  # type: ignore[arg-type]


async def test_the_limiter_can_be_chosen_and_counts_anew() -> None:
    emulator = Emulator.seeded(seed=7)
    emulator.create_limit = 3
    emulator.create_limiter = "sliding-window"
    assert emulator.create_limit == 3
    responses = await create_many(emulator, 4)
    assert sorted(r.status_code for r in responses) == [201, 201, 201, 429]


def test_the_cli_flag_sets_the_limit() -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway",
            "emulator",
            "--port",
            str(port),
            "--create-limit",
            "1",
            "--create-limiter",
            "fixed-window",
            "--admin",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"

        def serving() -> bool:
            try:
                httpx.get(f"{url}/_emulator/requests", timeout=0.5)
            except httpx.HTTPError:
                return False
            return True

        until_blocking(serving, SLACK * 2)
        flows = httpx.get(f"{url}/v2/Flows", auth=AUTH).json()["flows"]
        published = next(f["sid"] for f in flows if f["status"] == "published")
        statuses = [
            httpx.post(
                f"{url}/v2/Flows/{published}/Executions",
                data={"To": f"+1415555{n:04d}", "From": "+14155550100"},
                auth=AUTH,
            ).status_code
            for n in range(5)
        ]
        assert 429 in statuses
        assert httpx.get(f"{url}/_emulator/requests").json()["throttled"] == statuses.count(429)
    finally:
        process.kill()
        process.wait()
