"""Flows: revisions on update, definition validation (81022), Validate, test users."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from gateway.emulator import DEMO_ACCOUNT_SID, Emulator, create_app
from tests.support import AUTH

from . import contract

TRIGGER = {
    "name": "Trigger",
    "type": "trigger",
    "transitions": [{"event": "incomingRequest", "next": "hi"}],
}
HELLO = {
    "name": "hi",
    "type": "send-message",
    "transitions": [{"event": "sent"}],
    "properties": {"body": "Hi"},
}
VALID = {"initial_state": "Trigger", "states": [TRIGGER, HELLO]}


async def create(client: httpx.AsyncClient, definition: Any = VALID, **data: str) -> httpx.Response:
    form = {"FriendlyName": "Hello", "Status": "published", "Definition": json.dumps(definition)}
    return await client.post("/v2/Flows", data={**form, **data})


async def test_updates_that_change_the_flow_add_revisions(client: httpx.AsyncClient) -> None:
    flow = contract.check(await create(client, CommitMessage="v1"))
    url = flow["url"]
    renamed = {**VALID, "states": [TRIGGER, {**HELLO, "properties": {"body": "Hello there"}}]}

    v2 = contract.check(
        await client.post(url, data={"Status": "published", "Definition": json.dumps(renamed)})
    )
    v3 = contract.check(await client.post(url, data={"Status": "draft"}))
    same = contract.check(await client.post(url, data={"Status": "draft"}))
    v4 = contract.check(await client.post(url, data={"Status": "draft", "FriendlyName": "Howdy"}))
    revisions = contract.check(await client.get(f"{url}/Revisions"))["revisions"]
    first = contract.check(await client.get(f"{url}/Revisions/1"))

    assert [flow["revision"], v2["revision"], v3["revision"], same["revision"], v4["revision"]] == [
        1,
        2,
        3,
        3,
        4,
    ]
    assert [r["revision"] for r in revisions] == [4, 3, 2, 1]
    assert [r["status"] for r in revisions] == ["draft", "draft", "published", "published"]
    assert v4["friendly_name"] == "Howdy" and v4["definition"] == renamed
    assert first["definition"] == VALID and first["commit_message"] == "v1"
    assert flow["date_updated"] is None and v2["date_updated"] is not None
    latest_published = contract.check(await client.get(f"{url}/Revisions/LatestPublished"))
    assert latest_published["revision"] == 2


async def test_the_flow_list_leaves_out_definitions(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    flows = contract.check(await client.get("/v2/Flows"))["flows"]
    fetched = contract.check(await client.get(flows[0]["url"]))

    assert all(
        f["definition"] is None and f["valid"] is None and f["errors"] is None for f in flows
    )
    assert fetched["definition"]["initial_state"] == "Trigger"
    assert (fetched["valid"], fetched["errors"], fetched["warnings"]) == (True, [], [])
    assert set(fetched["links"]) == {"test_users", "revisions", "executions"}
    assert fetched["links"]["revisions"] == fetched["url"] + "/Revisions"
    assert fetched["url"].startswith("http://emulator.test/v2/Flows/FW")


@pytest.mark.parametrize(
    ("definition", "paths"),
    [
        ("not an object", ["#"]),
        ({"initial_state": "Trigger"}, ["#/states"]),
        ({"initial_state": "Trigger", "states": []}, ["#/states", "#/initial_state"]),
        ({"states": [TRIGGER, HELLO]}, ["#/initial_state"]),
        ({"initial_state": "Start", "states": [TRIGGER, HELLO]}, ["#/initial_state"]),
        ({"initial_state": "Trigger", "states": [TRIGGER, HELLO, HELLO]}, ["#/states/2/name"]),
        ({"initial_state": "Trigger", "states": [TRIGGER]}, ["#/states/0/transitions/0/next"]),
        (
            {"initial_state": "Trigger", "states": [TRIGGER, {"name": "hi", "transitions": "x"}]},
            ["#/states/1/type", "#/states/1/transitions"],
        ),
    ],
)
@pytest.mark.parametrize("operation", ["create", "update", "validate"])
async def test_invalid_definitions_are_refused_with_every_failure(
    client: httpx.AsyncClient, emulator: Emulator, definition: Any, paths: list[str], operation: str
) -> None:
    form = {"FriendlyName": "x", "Status": "draft", "Definition": json.dumps(definition)}
    target = {
        "create": "/v2/Flows",
        "update": f"/v2/Flows/{emulator.seeded_handles.survey_flow_sid}",
        "validate": "/v2/Flows/Validate",
    }[operation]
    flows_before = len(emulator.account(DEMO_ACCOUNT_SID).flows)

    response = await client.post(target, data=form)

    assert response.status_code == 400
    body = contract.check(response)
    assert (body["code"], body["message"]) == (81022, "Invalid Flow Definition")
    assert [e["property_path"] for e in body["details"]["errors"]] == paths
    assert all(e["message"] for e in body["details"]["errors"])
    assert len(emulator.account(DEMO_ACCOUNT_SID).flows) == flows_before


async def test_validate_has_no_side_effects(client: httpx.AsyncClient, emulator: Emulator) -> None:
    flows = emulator.account(DEMO_ACCOUNT_SID).flows
    before = {sid: flow.revision for sid, flow in flows.items()}

    response = await client.post(
        "/v2/Flows/Validate",
        data={"FriendlyName": "x", "Status": "published", "Definition": json.dumps(VALID)},
    )

    assert contract.check(response) == {"valid": True}
    assert {sid: flow.revision for sid, flow in flows.items()} == before
    # Validate is its own route, not a flow called "Validate".
    assert emulator.requests == {"POST /v2/Flows/Validate": 1}


async def test_test_users_are_replaced_as_a_whole(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    url = f"/v2/Flows/{emulator.seeded_handles.survey_flow_sid}/TestUsers"

    before = contract.check(await client.get(url))
    replaced = contract.check(
        await client.post(url, data={"TestUsers": ["+15550001", "+15550002"]})
    )
    again = contract.check(await client.post(url, data={"TestUsers": "+15550003"}))
    missing = await client.post(url, data={})

    assert before["test_users"] == ["+14155550100", "client:qa_ana"]
    assert replaced["test_users"] == ["+15550001", "+15550002"]
    assert again["test_users"] == ["+15550003"]
    assert missing.status_code == 400
    assert (
        contract.check(missing)["message"]
        == "Missing required parameter TestUsers in the post body"
    )
    assert again["url"].endswith(url)


async def test_base_url_overrides_the_request_host(emulator: Emulator) -> None:
    app = create_app(emulator, base_url="https://studio.example.com/")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ignored", auth=AUTH) as http:
        body = contract.check(await http.get("/v2/Flows", params={"PageSize": "1"}))
    assert body["meta"]["next_page_url"].startswith("https://studio.example.com/v2/Flows?")
    assert body["flows"][0]["url"].startswith("https://studio.example.com/v2/Flows/FW")
