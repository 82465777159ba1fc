"""The Studio client against the emulator: every operation, paging, filters, errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.emulator import Emulator
from gateway.studio import (
    Credentials,
    ExecutionStatus,
    FlowStatus,
    InvalidArgument,
    InvalidSid,
    PageRef,
    StudioClient,
    StudioError,
)
from tests.support import two_widget_flow

GOOD_DEFINITION = two_widget_flow("A tiny flow", "Hi!")


async def first_flow(studio: StudioClient) -> str:
    page = await studio.list_flows()
    return page.items[0].sid


async def all_executions(studio: StudioClient, flow_sid: str) -> list[str]:
    return [e.sid async for e in studio.iter_executions(flow_sid, page_size=1000)]


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.fetch_flow("FW123"),
        lambda c: c.fetch_flow("FN" + "a" * 32),
        lambda c: c.fetch_execution("FW" + "a" * 32, "FNnot-hex-not-hex-not-hex-not-hex-"),
        lambda c: c.fetch_execution_step("FW" + "a" * 32, "FN" + "a" * 32, "../Flows"),
        lambda c: c.fetch_step_context("FW" + "a" * 32, "FN" + "a" * 32, "FT" + "g" * 32),
        lambda c: c.list_executions("fw" + "a" * 32),
        lambda c: c.delete_flow("FW" + "a" * 31),
        lambda c: c.create_execution("FW" + "a" * 33, "+15555550100", "+15555550199"),
    ],
)
async def test_a_malformed_sid_is_refused_before_any_request(
    studio: StudioClient, emulator: Emulator, call
) -> None:
    with pytest.raises(InvalidSid, match=r"not a valid .* SID"):
        await call(studio)
    assert emulator.total_requests == 0


async def test_lists_follow_next_page_url_across_many_pages(
    any_studio: StudioClient, emulator: Emulator
) -> None:
    flow_sid = await first_flow(any_studio)
    whole = await any_studio.list_executions(flow_sid, page_size=1000)
    assert len(whole.items) >= 7 and not whole.has_next
    emulator.reset_counters()

    paged = [e.sid async for e in any_studio.iter_executions(flow_sid, page_size=2)]

    assert paged == [e.sid for e in whole.items]
    pages = emulator.requests["GET /v2/Flows/{FlowSid}/Executions"]
    needed = -(-len(paged) // 2)
    # One request per page; at most one more when the last page is exactly full.
    assert needed <= pages <= needed + 1
    assert len(set(paged)) == len(paged)


async def test_a_page_reference_keeps_the_upstream_token_and_filters(
    studio: StudioClient,
) -> None:
    flow_sid = await first_flow(studio)
    first = await studio.list_executions(flow_sid, status="ended", page_size=1)
    ref = PageRef.from_url(first.meta.next_page_url)
    assert ref is not None and ref.params["status"] == "ended"
    second = await studio.list_executions(flow_sid, page=ref)
    assert second.items and all(e.status is ExecutionStatus.ENDED for e in second.items)
    assert second.items[0].sid != first.items[0].sid


async def test_filters_given_with_a_page_reference_apply_to_that_page(
    studio: StudioClient,
) -> None:
    # The gateway's cursors carry where a page is, not the filters: those come
    # from the field's arguments, beside the page reference.
    flow_sid = await first_flow(studio)
    first = await studio.list_executions(flow_sid, status=ExecutionStatus.ENDED, page_size=1)
    ref = PageRef.from_url(first.meta.next_page_url)
    assert ref is not None
    where = PageRef(ref.paging)
    assert "status" not in where.params
    second = await studio.list_executions(flow_sid, status=ExecutionStatus.ENDED, page=where)
    assert second.items and all(e.status is ExecutionStatus.ENDED for e in second.items)
    assert second.items[0].sid != first.items[0].sid


async def test_executions_are_most_recent_first_and_filter_by_status_and_date(
    studio: StudioClient,
) -> None:
    flow_sid = await first_flow(studio)
    everything = (await studio.list_executions(flow_sid, page_size=1000)).items
    created = [e.date_created for e in everything]
    assert created == sorted(created, reverse=True)
    assert all(d is not None and d.tzinfo is not None for d in created)

    for status in ExecutionStatus:
        page = await studio.list_executions(flow_sid, status=status, page_size=1000)
        assert [e.sid for e in page.items] == [e.sid for e in everything if e.status is status]

    middle = everything[len(everything) // 2].date_created
    assert middle is not None
    since = await studio.list_executions(flow_sid, date_created_from=middle, page_size=1000)
    assert {e.sid for e in since.items} == {
        e.sid for e in everything if e.date_created and e.date_created >= middle
    }
    until = await studio.list_executions(
        flow_sid, date_created_to=middle + timedelta(seconds=1), page_size=1000
    )
    assert middle in {e.date_created for e in until.items}


async def test_the_flows_list_is_abridged_and_a_fetch_is_whole(studio: StudioClient) -> None:
    listed = (await studio.list_flows()).items[0]
    assert listed.partial and listed.definition is None
    fetched = await studio.fetch_flow(listed.sid)
    assert not fetched.partial
    assert isinstance(fetched.definition, dict) and fetched.definition["states"]
    assert fetched.friendly_name == listed.friendly_name


async def test_flow_lifecycle_create_update_revisions_test_users_delete(
    any_studio: StudioClient, emulator: Emulator
) -> None:
    created = await any_studio.create_flow(
        "Lifecycle – ünïcode", FlowStatus.PUBLISHED, GOOD_DEFINITION, "first"
    )
    assert created.friendly_name == "Lifecycle – ünïcode"
    assert created.revision == 1 and created.definition == GOOD_DEFINITION

    changed = dict(GOOD_DEFINITION, description="Second take")
    updated = await any_studio.update_flow(
        created.sid, "published", definition=changed, commit_message="second"
    )
    assert updated.revision == 2

    revisions = [r async for r in any_studio.iter_flow_revisions(created.sid, page_size=1)]
    assert sorted(r.revision for r in revisions) == [1, 2]
    first = await any_studio.fetch_flow_revision(created.sid, 1)
    latest = await any_studio.fetch_flow_revision(created.sid, "LatestPublished")
    assert first.definition == GOOD_DEFINITION
    assert latest.revision == 2 and latest.definition == changed

    users = await any_studio.update_test_users(created.sid, ["alice", "bob"])
    assert users.test_users == ["alice", "bob"]
    assert (await any_studio.fetch_test_users(created.sid)).test_users == ["alice", "bob"]

    await any_studio.delete_flow(created.sid)
    with pytest.raises(StudioError) as caught:
        await any_studio.fetch_flow(created.sid)
    assert caught.value.status == 404 and caught.value.code == 20404


async def test_validate_has_no_side_effects_and_reports_81022(studio: StudioClient) -> None:
    before = [f.sid async for f in studio.iter_flows()]
    ok = await studio.validate_flow("Check", "draft", GOOD_DEFINITION)
    assert ok.valid is True
    broken = dict(
        GOOD_DEFINITION, states=[*GOOD_DEFINITION["states"], GOOD_DEFINITION["states"][1]]
    )
    with pytest.raises(StudioError) as caught:
        await studio.validate_flow("Check", "draft", broken)
    assert caught.value.code == 81022 and caught.value.status == 400
    assert caught.value.details
    assert [f.sid async for f in studio.iter_flows()] == before


async def test_execution_lifecycle_context_steps_end_and_delete(
    any_studio: StudioClient,
) -> None:
    flow = await any_studio.create_flow("Runs", "published", GOOD_DEFINITION)
    execution = await any_studio.create_execution(
        flow.sid, "+15005550006", "+15005550001", {"name": "Ada", "n": 1}
    )
    assert execution.flow_sid == flow.sid and execution.flow_version == 1
    assert execution.contact_channel_address == "+15005550006"

    context = await any_studio.fetch_execution_context(flow.sid, execution.sid)
    assert context.context["flow"]["data"] == {"name": "Ada", "n": 1}

    steps = [s async for s in any_studio.iter_execution_steps(flow.sid, execution.sid)]
    assert steps, "creating an execution runs it"
    step = await any_studio.fetch_execution_step(flow.sid, execution.sid, steps[0].sid)
    assert step == steps[0]
    step_context = await any_studio.fetch_step_context(flow.sid, execution.sid, step.sid)
    assert step_context.step_sid == step.sid

    fetched = await any_studio.fetch_execution(flow.sid, execution.sid)
    if fetched.status is ExecutionStatus.ACTIVE:
        ended = await any_studio.update_execution(flow.sid, execution.sid, "ended")
        assert ended.status is ExecutionStatus.ENDED
    with pytest.raises(StudioError) as again:
        await any_studio.update_execution(flow.sid, execution.sid)
    assert again.value.status == 409

    await any_studio.delete_execution(flow.sid, execution.sid)
    with pytest.raises(StudioError) as gone:
        await any_studio.fetch_execution_step(flow.sid, execution.sid, step.sid)
    assert gone.value.status == 404


async def test_a_second_execution_for_an_active_contact_is_a_conflict_naming_it(
    studio: StudioClient, emulator: Emulator
) -> None:
    h = emulator.seeded_handles.active_execution
    flow_sid, execution_sid, to, from_ = h.flow_sid, h.execution_sid, h.to, h.from_
    with pytest.raises(StudioError) as caught:
        await studio.create_execution(flow_sid, to, from_)
    error = caught.value
    assert (error.status, error.code) == (409, 20409)
    assert error.details == {"conflicting_execution_sid": execution_sid}
    assert error.more_info and "20409" in error.more_info


async def test_bad_credentials_are_20003_and_never_echoed(
    emulator: Emulator, studio: StudioClient
) -> None:
    wrong = studio.with_credentials(
        Credentials.auth_token(studio.account_sid, "not-the-token-s3cr3t")
    )
    with pytest.raises(StudioError) as caught:
        await wrong.list_flows()
    error = caught.value
    assert (error.status, error.code) == (401, 20003)
    for text in (str(error), repr(error), repr(wrong), repr(wrong.credentials)):
        assert "s3cr3t" not in text


async def test_a_token_the_server_never_issued_is_21481(studio: StudioClient) -> None:
    with pytest.raises(StudioError) as caught:
        await studio.list_flows(page=PageRef({"PageToken": "PAforged", "Page": "3"}))
    assert caught.value.code == 21481 and caught.value.status == 400


async def test_arguments_are_checked_before_sending(
    studio: StudioClient, emulator: Emulator
) -> None:
    flow_sid = "FW" + "0" * 32
    with pytest.raises(InvalidArgument, match="page_size"):
        await studio.list_flows(page_size=1001)
    with pytest.raises(InvalidArgument, match="status"):
        await studio.list_executions(flow_sid, status="paused")
    with pytest.raises(InvalidArgument, match="timezone"):
        await studio.list_executions(flow_sid, date_created_from=datetime(2024, 1, 1))
    with pytest.raises(InvalidArgument, match="revision"):
        await studio.fetch_flow_revision(flow_sid, "Newest")
    with pytest.raises(InvalidArgument, match="'to'"):
        await studio.create_execution(flow_sid, "", "+15005550001")
    assert emulator.total_requests == 0


async def test_timestamps_are_timezone_aware(studio: StudioClient) -> None:
    flow = (await studio.list_flows()).items[0]
    assert flow.date_created is not None and flow.date_created.tzinfo is not None
    assert flow.date_created < datetime.now(UTC)
