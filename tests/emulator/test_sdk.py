"""The official twilio SDK against the emulator over a real socket.

If the SDK can page, fetch, create, update and delete every resource, and parses
every date as a datetime, then the emulator speaks Studio closely enough for the
client that Twilio itself ships.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from gateway.emulator import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, Emulator
from tests.support import SEEDED_AT, LiveServer

DEFINITION = {
    "description": "Say hello, then ask for a rating",
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
            "transitions": [{"event": "sent", "next": "ask"}, {"event": "failed"}],
            "properties": {"body": "Hi {{flow.data.name}}!", "offset": {"x": 0, "y": 200}},
        },
        {
            "name": "ask",
            "type": "send-and-wait-for-reply",
            "transitions": [{"event": "incomingMessage"}, {"event": "timeout"}],
            "properties": {"body": "Rate us 1-5", "offset": {"x": 0, "y": 400}},
        },
    ],
}


@pytest.fixture
def twilio(live_server: LiveServer) -> Iterator[Client]:
    client = Client(DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN)
    client.studio.base_url = live_server.url
    yield client
    session = client.http_client.session
    if session is not None:
        session.close()


def test_sdk_pages_through_flows(twilio: Client, emulator: Emulator) -> None:
    flows = twilio.studio.v2.flows.list(page_size=2, limit=100)

    assert [flow.sid for flow in flows] == list(emulator.account(DEMO_ACCOUNT_SID).flows)
    assert emulator.requests["GET /v2/Flows"] == 3
    assert all(isinstance(flow.date_created, datetime) for flow in flows)
    assert all(flow.definition is None for flow in flows)


def test_sdk_fetches_a_flow_with_its_definition(twilio: Client, emulator: Emulator) -> None:
    handles = emulator.seeded_handles
    flow = twilio.studio.v2.flows(handles.non_ascii_flow_sid).fetch()

    assert flow.friendly_name == "Encuesta de satisfacción \u2013 ñandú"
    assert flow.definition["initial_state"] == "Trigger"
    assert flow.valid is True and flow.errors == [] and flow.warnings == []
    assert flow.date_created < SEEDED_AT
    assert flow.links["executions"].startswith(twilio.studio.base_url)


def test_sdk_reads_revisions_by_number_and_by_name(twilio: Client, emulator: Emulator) -> None:
    handles = emulator.seeded_handles
    flow = twilio.studio.v2.flows(handles.flow_with_many_revisions_sid)

    revisions = flow.revisions.list(page_size=25)
    latest_published = flow.revisions("LatestPublished").fetch()
    latest = flow.revisions("LatestRevision").fetch()
    first = flow.revisions(1).fetch()

    assert [r.revision for r in revisions] == list(range(60, 0, -1))
    assert emulator.requests["GET /v2/Flows/{Sid}/Revisions"] == 3
    assert all(r.definition is None and r.valid is None for r in revisions)
    assert (latest.revision, latest.status) == (60, "draft")
    assert latest_published.status == "published" and latest_published.revision < 60
    assert first.revision == 1 and isinstance(first.date_created, datetime)
    assert first.definition != latest.definition


def test_sdk_creates_updates_and_deletes_a_flow(twilio: Client, emulator: Emulator) -> None:
    created = twilio.studio.v2.flows.create(
        friendly_name="Hello", status="draft", definition=DEFINITION, commit_message="first"
    )
    changed = {**DEFINITION, "description": "Say hello nicely"}
    updated = twilio.studio.v2.flows(created.sid).update(
        status="published", definition=changed, commit_message="publish"
    )
    revisions = twilio.studio.v2.flows(created.sid).revisions.list()

    assert (created.revision, created.status, created.commit_message) == (1, "draft", "first")
    assert (updated.revision, updated.status) == (2, "published")
    assert updated.definition["description"] == "Say hello nicely"
    assert isinstance(updated.date_updated, datetime)
    assert [r.status for r in revisions] == ["published", "draft"]

    assert twilio.studio.v2.flows(created.sid).delete() is True
    with pytest.raises(TwilioRestException) as raised:
        twilio.studio.v2.flows(created.sid).fetch()
    assert (raised.value.status, raised.value.code) == (404, 20404)


def test_sdk_validates_a_flow(twilio: Client) -> None:
    result = twilio.studio.v2.flow_validate.update(
        friendly_name="Hello", status="draft", definition=DEFINITION
    )
    assert result.valid is True

    broken = {**DEFINITION, "initial_state": "Start"}
    with pytest.raises(TwilioRestException) as raised:
        twilio.studio.v2.flow_validate.update(friendly_name="x", status="draft", definition=broken)
    assert (raised.value.status, raised.value.code) == (400, 81022)
    assert raised.value.details["errors"][0]["property_path"] == "#/initial_state"


def test_sdk_reads_and_replaces_test_users(twilio: Client, emulator: Emulator) -> None:
    test_users = twilio.studio.v2.flows(emulator.seeded_handles.survey_flow_sid).test_users()

    before = test_users.fetch()
    after = test_users.update(test_users=["+14155550123", "client:zoe"])

    assert before.test_users == ["+14155550100", "client:qa_ana"]
    assert after.test_users == ["+14155550123", "client:zoe"]
    assert test_users.fetch().test_users == ["+14155550123", "client:zoe"]


def test_sdk_lists_executions_with_filters(twilio: Client, emulator: Emulator) -> None:
    flow_sid = emulator.seeded_handles.survey_flow_sid
    since = SEEDED_AT - timedelta(days=10)
    executions = twilio.studio.v2.flows(flow_sid).executions.list(
        status="ended", date_created_from=since, page_size=2, limit=100
    )

    expected = sorted(
        (
            e
            for e in emulator.account(DEMO_ACCOUNT_SID).flows[flow_sid].executions.values()
            if e.status == "ended" and e.date_created >= since
        ),
        key=lambda e: e.sort_key,
        reverse=True,
    )
    assert [e.sid for e in executions] == [e.sid for e in expected]
    assert expected, "the seeded survey has ended executions in the last 10 days"
    assert all(isinstance(e.date_created, datetime) and e.date_created >= since for e in executions)
    assert all(e.status == "ended" for e in executions)


def test_sdk_runs_an_execution_end_to_end(twilio: Client) -> None:
    flow = twilio.studio.v2.flows.create(
        friendly_name="Hello", status="published", definition=DEFINITION
    )
    executions = twilio.studio.v2.flows(flow.sid).executions

    execution = executions.create(
        to="+14155550111", from_="+14155550199", parameters={"name": "Zoë"}
    )
    context = executions(execution.sid).execution_context().fetch()
    steps = executions(execution.sid).steps.list()
    step = executions(execution.sid).steps(steps[0].sid).fetch()
    step_context = executions(execution.sid).steps(step.sid).step_context().fetch()

    assert (execution.status, execution.flow_version) == ("active", 1)
    assert execution.contact_channel_address == "+14155550111"
    assert isinstance(execution.date_created, datetime)
    assert context.context["flow"]["data"] == {"name": "Zoë"}
    assert context.context["widgets"]["hello"]["Body"] == "Hi Zoë!"
    assert [(s.transitioned_from, s.name, s.transitioned_to) for s in steps] == [
        ("hello", "sent", "ask"),
        ("Trigger", "incomingRequest", "hello"),
    ]
    assert step.type == "send-message" and isinstance(step.date_created, datetime)
    assert step_context.context == context.context

    with pytest.raises(TwilioRestException) as raised:
        executions.create(to="+14155550111", from_="+14155550199")
    assert (raised.value.status, raised.value.code) == (409, 20409)
    assert raised.value.details == {"conflicting_execution_sid": execution.sid}

    ended = executions(execution.sid).update(status="ended")
    assert ended.status == "ended" and isinstance(ended.date_updated, datetime)
    with pytest.raises(TwilioRestException) as raised:
        executions(execution.sid).update(status="ended")
    assert (raised.value.status, raised.value.code) == (409, 20409)

    assert executions(execution.sid).delete() is True
    assert executions.list() == []


def test_sdk_reads_seeded_steps_and_contexts(twilio: Client, emulator: Emulator) -> None:
    flow_sid, execution_sid, step_sid = emulator.seeded_handles.subflow_step
    execution = twilio.studio.v2.flows(flow_sid).executions(execution_sid)

    steps = execution.steps.list(page_size=2, limit=50)
    step = execution.steps(step_sid).fetch()
    context = execution.steps(step_sid).step_context().fetch()

    assert step_sid in [s.sid for s in steps]
    assert step.parent_step_sid in [s.sid for s in steps]
    assert [s.date_created for s in steps] == sorted((s.date_created for s in steps), reverse=True)
    assert context.step_sid == step_sid and "flow" in context.context
