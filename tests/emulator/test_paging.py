"""Paging: PageSize bounds, opaque tokens, and stable pages while rows change."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gateway.emulator import DEMO_ACCOUNT_SID, Emulator, create_app
from tests.support import AUTH, SEEDED_AT

from . import contract


async def walk(client: httpx.AsyncClient, url: str, params: dict[str, str]) -> list[dict[str, Any]]:
    """Every page of a list, following next_page_url."""
    pages = []
    response = await client.get(url, params=params)
    while True:
        body = contract.check(response)
        pages.append(body)
        if body["meta"]["next_page_url"] is None:
            return pages
        response = await client.get(body["meta"]["next_page_url"])


def sids_of(pages: list[dict[str, Any]]) -> list[str]:
    return [row["sid"] for page in pages for row in page[page["meta"]["key"]]]


@pytest.fixture
def big_emulator() -> Emulator:
    return Emulator.seeded(seed=3, flows=6, executions_per_flow=23, now=SEEDED_AT)


@pytest.fixture
async def big_client(big_emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(big_emulator))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://emulator.test", auth=AUTH
    ) as http:
        yield http


async def test_following_next_page_url_visits_every_row_once_newest_first(
    big_client: httpx.AsyncClient, big_emulator: Emulator
) -> None:
    flow_sid = big_emulator.seeded_handles.survey_flow_sid
    pages = await walk(big_client, f"/v2/Flows/{flow_sid}/Executions", {"PageSize": "5"})

    executions = big_emulator.account(DEMO_ACCOUNT_SID).flows[flow_sid].executions.values()
    newest_first = sorted(executions, key=lambda e: e.sort_key, reverse=True)
    assert sids_of(pages) == [e.sid for e in newest_first]
    assert [len(page["executions"]) for page in pages] == [5, 5, 5, 5, 3]
    assert [page["meta"]["page"] for page in pages] == [0, 1, 2, 3, 4]
    assert pages[0]["meta"]["previous_page_url"] is None
    assert all(page["meta"]["next_page_url"].count("PageToken=PAFN") == 1 for page in pages[:-1])


async def test_previous_page_url_leads_back_to_the_same_rows(big_client: httpx.AsyncClient) -> None:
    first = contract.check(await big_client.get("/v2/Flows", params={"PageSize": "2"}))
    second = contract.check(await big_client.get(first["meta"]["next_page_url"]))
    back = contract.check(await big_client.get(second["meta"]["previous_page_url"]))

    assert [f["sid"] for f in back["flows"]] == [f["sid"] for f in first["flows"]]
    assert back["meta"]["page"] == 0
    assert back["meta"]["previous_page_url"] is None


async def test_pages_stay_correct_when_rows_are_added_and_removed_between_pages(
    big_client: httpx.AsyncClient, big_emulator: Emulator
) -> None:
    flow_sid = big_emulator.seeded_handles.survey_flow_sid
    url = f"/v2/Flows/{flow_sid}/Executions"
    before = sids_of(await walk(big_client, url, {"PageSize": "100"}))

    first = contract.check(await big_client.get(url, params={"PageSize": "6"}))
    for n in range(3):
        created = await big_client.post(url, data={"To": f"+1415555020{n}", "From": "+14155550300"})
        assert created.status_code == 201
    # Remove the row the next page starts after, and a row further on.
    boundary, later = first["executions"][-1]["sid"], before[10]
    for sid in (boundary, later):
        assert (await big_client.delete(f"{url}/{sid}")).status_code == 204

    rest = [contract.check(await big_client.get(first["meta"]["next_page_url"]))]
    while rest[-1]["meta"]["next_page_url"]:
        rest.append(contract.check(await big_client.get(rest[-1]["meta"]["next_page_url"])))

    seen = [e["sid"] for e in first["executions"]] + sids_of(rest)
    assert seen == [sid for sid in before if sid != later]


async def test_a_flow_added_between_pages_appears_at_the_end(
    big_client: httpx.AsyncClient, big_emulator: Emulator
) -> None:
    first = contract.check(await big_client.get("/v2/Flows", params={"PageSize": "4"}))
    definition = (
        '{"initial_state": "Trigger", '
        '"states": [{"name": "Trigger", "type": "trigger", "transitions": []}]}'
    )
    created = await big_client.post(
        "/v2/Flows", data={"FriendlyName": "New", "Status": "draft", "Definition": definition}
    )
    second = contract.check(await big_client.get(first["meta"]["next_page_url"]))

    listed = [f["sid"] for f in first["flows"] + second["flows"]]
    assert listed == list(big_emulator.account(DEMO_ACCOUNT_SID).flows)
    assert listed[-1] == created.json()["sid"]


async def test_the_default_page_is_50_rows(client: httpx.AsyncClient, emulator: Emulator) -> None:
    flow_sid = emulator.seeded_handles.flow_with_many_revisions_sid
    pages = await walk(client, f"/v2/Flows/{flow_sid}/Revisions", {})

    assert [len(page["revisions"]) for page in pages] == [50, 10]
    assert pages[0]["meta"]["page_size"] == 50
    assert pages[0]["meta"]["url"].endswith(f"/v2/Flows/{flow_sid}/Revisions?PageSize=50&Page=0")


@pytest.mark.parametrize("size", ["1", "1000"])
async def test_page_sizes_1_and_1000_are_accepted(client: httpx.AsyncClient, size: str) -> None:
    body = contract.check(await client.get("/v2/Flows", params={"PageSize": size}))
    assert body["meta"]["page_size"] == int(size)


@pytest.mark.parametrize("size", ["0", "1001", "-5", "2.5", "fifty"])
async def test_page_sizes_outside_1_to_1000_are_refused(
    client: httpx.AsyncClient, size: str
) -> None:
    response = await client.get("/v2/Flows", params={"PageSize": size})
    assert response.status_code == 400
    assert "PageSize" in contract.check(response)["message"]


async def test_page_without_token_is_an_offset(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    body = contract.check(await client.get("/v2/Flows", params={"PageSize": "2", "Page": "1"}))
    assert [f["sid"] for f in body["flows"]] == list(emulator.account(DEMO_ACCOUNT_SID).flows)[2:4]
    assert body["meta"]["page"] == 1
    assert body["meta"]["previous_page_url"] is not None


async def test_tokens_the_server_did_not_issue_are_refused(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    flow_sid = emulator.seeded_handles.survey_flow_sid
    flows_page = contract.check(await client.get("/v2/Flows", params={"PageSize": "1"}))
    flows_token = httpx.URL(flows_page["meta"]["next_page_url"]).params["PageToken"]
    executions = f"/v2/Flows/{flow_sid}/Executions"
    # The right shape, naming a real flow, but never issued: no page has ended there.
    forged = "PA" + list(emulator.account(DEMO_ACCOUNT_SID).flows)[-1]

    for target, token in (
        (executions, flows_token),  # issued, but for another list
        ("/v2/Flows", forged),
        ("/v2/Flows", "PAFN" + "0" * 32),
        (executions, "garbage"),
    ):
        response = await client.get(target, params={"PageToken": token})
        assert response.status_code == 400, token
        assert contract.check(response)["code"] == 21481


async def test_a_token_from_another_account_is_refused(emulator: Emulator) -> None:
    other_sid = "AC" + "b" * 32
    emulator.add_account(other_sid, "other-token", flows=6, executions_per_flow=3)
    transport = httpx.ASGITransport(app=create_app(emulator))
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator.test") as http:
        mine = await http.get("/v2/Flows", params={"PageSize": "1"}, auth=AUTH)
        theirs = await http.get(
            mine.json()["meta"]["next_page_url"], auth=(other_sid, "other-token")
        )
    assert theirs.status_code == 400
    assert contract.check(theirs)["code"] == 21481


async def test_filters_carry_forward_into_every_page_url(
    big_client: httpx.AsyncClient, big_emulator: Emulator
) -> None:
    flow_sid = big_emulator.seeded_handles.survey_flow_sid
    params = {"status": "ended", "DateCreatedFrom": "2025-05-10T00:00:00+02:00", "PageSize": "2"}
    pages = await walk(big_client, f"/v2/Flows/{flow_sid}/Executions", params)

    for page in pages:
        for url in (
            page["meta"]["url"],
            page["meta"]["first_page_url"],
            page["meta"]["next_page_url"],
        ):
            if url is not None:
                query = httpx.URL(url).params
                assert query["status"] == "ended"
                assert query["DateCreatedFrom"] == "2025-05-10T00:00:00+02:00"
    records = big_emulator.account(DEMO_ACCOUNT_SID).flows[flow_sid].executions
    rows = [records[sid] for sid in sids_of(pages)]
    assert rows and all(r.status == "ended" for r in rows)
    assert all(r.date_created.isoformat() >= "2025-05-09T22:00:00+00:00" for r in rows)
    assert len(rows) == sum(
        1
        for r in records.values()
        if r.status == "ended" and r.date_created.isoformat() >= "2025-05-09T22:00:00+00:00"
    )
