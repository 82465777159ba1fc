"""Executions: how they run, conflict, end, filter and cascade."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from gateway.emulator import DEMO_ACCOUNT_SID, Emulator

from . import contract

TO, FROM = "+14155550111", "+14155550199"


def linear_flow(*states: dict[str, Any]) -> str:
    return json.dumps({"initial_state": "Trigger", "states": list(states)})


def widget(
    name: str, kind: str, *transitions: tuple[str, str | None], **properties: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "type": kind,
        "transitions": [
            {"event": event, **({"next": target} if target else {})}
            for event, target in transitions
        ],
        "properties": properties,
    }


NO_WAIT = linear_flow(
    widget("Trigger", "trigger", ("incomingRequest", "remember")),
    widget(
        "remember",
        "set-variables",
        ("next", "hello"),
        variables=[{"key": "greeting", "value": "Hi {{flow.data.name}}"}],
    ),
    widget(
        "hello",
        "send-message",
        ("sent", None),
        ("failed", None),
        body="{{flow.variables.greeting}}!",
    ),
)


async def create_flow(client: httpx.AsyncClient, definition: str, status: str = "published") -> str:
    response = await client.post(
        "/v2/Flows", data={"FriendlyName": "Test", "Status": status, "Definition": definition}
    )
    return str(contract.check(response)["sid"])


async def start(client: httpx.AsyncClient, flow_sid: str, **data: str) -> httpx.Response:
    return await client.post(
        f"/v2/Flows/{flow_sid}/Executions", data={"To": TO, "From": FROM, **data}
    )


async def steps_of(
    client: httpx.AsyncClient, flow_sid: str, execution_sid: str
) -> list[dict[str, Any]]:
    response = await client.get(f"/v2/Flows/{flow_sid}/Executions/{execution_sid}/Steps")
    return list(contract.check(response)["steps"])


async def test_an_execution_runs_until_the_widget_that_waits_for_the_contact(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    flow_sid = emulator.seeded_handles.survey_flow_sid
    created = contract.check(await start(client, flow_sid, Parameters='{"first_name": "Zoë"}'))
    steps = await steps_of(client, flow_sid, created["sid"])
    context = contract.check(await client.get(created["links"]["execution_context"]))["context"]

    assert created["status"] == "active"
    assert created["contact_channel_address"] == TO
    assert created["contact_sid"].startswith("FC") and created["initiated_by"].startswith("RQ")
    assert created["date_created"] == created["date_updated"]
    assert [
        (s["transitioned_from"], s["name"], s["transitioned_to"], s["type"]) for s in steps
    ] == [("Trigger", "incomingRequest", "ask_rating", "trigger")]
    assert context["flow"]["data"] == {"first_name": "Zoë"}
    assert context["flow"]["channel"] == {"address": FROM}
    assert context["contact"] == {"channel": {"address": TO}}


async def test_an_execution_without_waiting_widgets_runs_to_the_end(
    client: httpx.AsyncClient,
) -> None:
    flow_sid = await create_flow(client, NO_WAIT)
    created = contract.check(await start(client, flow_sid, Parameters='{"name": "Ana"}'))
    steps = list(reversed(await steps_of(client, flow_sid, created["sid"])))
    step_contexts = [
        contract.check(await client.get(s["links"]["step_context"]))["context"] for s in steps
    ]
    context = contract.check(await client.get(created["links"]["execution_context"]))["context"]

    assert created["status"] == "ended"
    assert [(s["transitioned_from"], s["name"], s["transitioned_to"]) for s in steps] == [
        ("Trigger", "incomingRequest", "remember"),
        ("remember", "next", "hello"),
        ("hello", "sent", "Ended"),
    ]
    # The context grows step by step; the execution's is the latest.
    assert [sorted(c["widgets"]) for c in step_contexts] == [[], [], ["hello"]]
    assert [c["flow"]["variables"] for c in step_contexts][1:] == [{"greeting": "Hi Ana"}] * 2
    assert step_contexts[-1]["widgets"]["hello"]["Body"] == "Hi Ana!"
    assert context == step_contexts[-1]


async def test_a_contact_can_have_one_active_execution_per_flow_and_sender(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    flow_sid, busy_sid, to, from_ = emulator.seeded_handles.active_execution

    conflict = await client.post(f"/v2/Flows/{flow_sid}/Executions", data={"To": to, "From": from_})
    other_sender = await client.post(
        f"/v2/Flows/{flow_sid}/Executions", data={"To": to, "From": "+14155550000"}
    )

    assert conflict.status_code == 409
    assert contract.check(conflict) == {
        "code": 20409,
        "message": f"Execution {busy_sid} is already active for this contact. "
        "End the active Execution before creating a new one",
        "more_info": "https://www.twilio.com/docs/errors/20409",
        "status": 409,
        "details": {"conflicting_execution_sid": busy_sid},
    }
    assert other_sender.status_code == 201

    ended = await client.post(
        f"/v2/Flows/{flow_sid}/Executions/{busy_sid}", data={"Status": "ended"}
    )
    assert contract.check(ended)["status"] == "ended"
    again = await client.post(f"/v2/Flows/{flow_sid}/Executions", data={"To": to, "From": from_})
    assert again.status_code == 201


async def test_ending_an_execution_twice_is_a_conflict(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    flow_sid, execution_sid, _, _ = emulator.seeded_handles.active_execution
    url = f"/v2/Flows/{flow_sid}/Executions/{execution_sid}"

    first = contract.check(await client.post(url, data={"Status": "ended"}))
    second = await client.post(url, data={"Status": "ended"})

    assert first["status"] == "ended" and first["date_updated"] is not None
    assert second.status_code == 409 and contract.check(second)["code"] == 20409
    assert contract.check(await client.get(url))["status"] == "ended"


@pytest.mark.parametrize("status", ["active", "paused", ""])
async def test_an_execution_can_only_be_set_to_ended(
    client: httpx.AsyncClient, emulator: Emulator, status: str
) -> None:
    flow_sid, execution_sid, _, _ = emulator.seeded_handles.active_execution
    response = await client.post(
        f"/v2/Flows/{flow_sid}/Executions/{execution_sid}", data={"Status": status}
    )
    assert response.status_code == 400 and contract.check(response)["code"] == 20001


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"From": FROM}, "Missing required parameter To in the post body"),
        ({"To": TO}, "Missing required parameter From in the post body"),
        ({"To": "", "From": FROM}, "Missing required parameter To in the post body"),
    ],
)
async def test_to_and_from_are_required(
    client: httpx.AsyncClient, emulator: Emulator, data: dict[str, str], message: str
) -> None:
    flow_sid = emulator.seeded_handles.survey_flow_sid
    response = await client.post(f"/v2/Flows/{flow_sid}/Executions", data=data)
    assert response.status_code == 400
    assert (contract.check(response)["code"], response.json()["message"]) == (20001, message)


async def test_a_json_body_is_not_read_as_parameters(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    flow_sid = emulator.seeded_handles.survey_flow_sid
    response = await client.post(f"/v2/Flows/{flow_sid}/Executions", json={"To": TO, "From": FROM})
    assert response.status_code == 400
    assert contract.check(response)["message"] == "Missing required parameter To in the post body"


async def test_an_execution_runs_on_the_latest_published_revision(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    flow_sid = emulator.seeded_handles.draft_pending_flow_sid
    published = contract.check(await client.get(f"/v2/Flows/{flow_sid}/Revisions/LatestPublished"))
    latest = contract.check(await client.get(f"/v2/Flows/{flow_sid}"))

    created = contract.check(await start(client, flow_sid))

    assert latest["status"] == "draft" and latest["revision"] > published["revision"]
    assert created["flow_version"] == published["revision"]


async def test_a_test_user_runs_the_latest_draft(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    flow_sid = emulator.seeded_handles.draft_pending_flow_sid
    await client.post(f"/v2/Flows/{flow_sid}/TestUsers", data={"TestUsers": TO})

    created = contract.check(await start(client, flow_sid))

    assert (
        created["flow_version"]
        == contract.check(await client.get(f"/v2/Flows/{flow_sid}"))["revision"]
    )


async def test_a_flow_never_published_cannot_start_executions(client: httpx.AsyncClient) -> None:
    flow_sid = await create_flow(client, NO_WAIT, status="draft")
    response = await start(client, flow_sid)
    assert response.status_code == 400
    body = contract.check(response)
    assert body["code"] == 20001 and "no published revision" in body["message"]


async def test_a_subflow_runs_inside_its_parent_execution(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    handles = emulator.seeded_handles
    created = contract.check(await start(client, handles.reminder_flow_sid))
    steps = list(reversed(await steps_of(client, handles.reminder_flow_sid, created["sid"])))

    entering = steps[0]
    assert (entering["transitioned_to"], entering["parent_step_sid"]) == ("verify_identity", None)
    inside = steps[1:]
    assert inside[0]["name"] == "incomingParent"
    assert all(s["parent_step_sid"] == entering["sid"] for s in inside)
    # The subflow asks the contact for a code, so the parent waits too.
    assert inside[-1]["transitioned_to"] == "ask_code"
    assert created["status"] == "active"


async def test_deleting_an_execution_deletes_its_steps_and_contexts(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    flow_sid, execution_sid = emulator.seeded_handles.ended_execution
    url = f"/v2/Flows/{flow_sid}/Executions/{execution_sid}"
    steps = await steps_of(client, flow_sid, execution_sid)
    assert steps

    assert (await client.delete(url)).status_code == 204
    for gone in (
        url,
        f"{url}/Context",
        f"{url}/Steps",
        steps[0]["url"],
        steps[0]["links"]["step_context"],
    ):
        response = await client.get(gone)
        assert response.status_code == 404, gone
        assert (
            contract.check(response)["message"]
            == f"The requested resource {httpx.URL(gone).path} was not found"
        )


async def test_deleting_a_flow_deletes_its_revisions_executions_and_steps(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    flow_sid, execution_sid = emulator.seeded_handles.ended_execution
    flow_url = f"/v2/Flows/{flow_sid}"
    step_url = (await steps_of(client, flow_sid, execution_sid))[0]["url"]

    assert (await client.delete(flow_url)).status_code == 204

    gone = [
        flow_url,
        f"{flow_url}/Revisions",
        f"{flow_url}/Revisions/1",
        f"{flow_url}/TestUsers",
        f"{flow_url}/Executions",
        f"{flow_url}/Executions/{execution_sid}",
        f"{flow_url}/Executions/{execution_sid}/Context",
        step_url,
    ]
    for url in gone:
        response = await client.get(url)
        assert response.status_code == 404, url
        contract.check(response)
    assert flow_sid not in emulator.account(DEMO_ACCOUNT_SID).flows


async def test_executions_are_listed_most_recent_first_and_filtered(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    flow_sid = emulator.seeded_handles.survey_flow_sid
    records = emulator.account(DEMO_ACCOUNT_SID).flows[flow_sid].executions

    async def listed(**params: str) -> list[str]:
        response = await client.get(
            f"/v2/Flows/{flow_sid}/Executions", params={"PageSize": "1000", **params}
        )
        return [e["sid"] for e in contract.check(response)["executions"]]

    everything = await listed()
    dates = [records[sid].date_created for sid in everything]
    assert dates == sorted(dates, reverse=True) and len(everything) == len(records)

    active = await listed(status="active")
    assert active and all(records[sid].status == "active" for sid in active)
    assert set(active) | set(await listed(status="ended")) == set(everything)

    middle = sorted(records.values(), key=lambda e: e.sort_key)[len(records) // 2].date_created
    since = await listed(DateCreatedFrom=middle.strftime("%Y-%m-%dT%H:%M:%SZ"))
    before = await listed(DateCreatedTo=middle.strftime("%Y-%m-%dT%H:%M:%S+00:00"))
    assert set(since) | set(before) == set(everything) and not set(since) & set(before)
    assert all(records[sid].date_created >= middle for sid in since)

    day = await listed(
        DateCreatedFrom=middle.strftime("%Y-%m-%d"), DateCreatedTo=middle.strftime("%Y-%m-%d")
    )
    assert day == []
