"""Every page of a list is kept and loaded under a key of its own: its parent, its paging
(PageSize, Page, PageToken) and its filters. A key that lost any of them would serve
one page, or one filtered list, as another.

Two kinds of key: the shared cache's, across requests (an ended execution's steps
pages: `keeping.EntryNames` under `Loaders._fetch_steps_page`), and the loaders'
own within one operation (`pages.PageKey`, for flows, revisions, executions and
steps pages).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway.cache import Cache
from gateway.emulator import Emulator
from tests.support import Gateway, open_gateway

STEPS_ROUTE = "GET /v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Steps"

STEPS = """query($f: ID!, $e: ID!, $n: Int!, $after: String) {
  execution(flowSid: $f, sid: $e) {
    steps(first: $n, after: $after) { nodes { sid } pageInfo { endCursor } } } }"""


async def gateway_with(emulator: Emulator, cache: Cache | None) -> AsyncIterator[Gateway]:
    async for gw in open_gateway(emulator, cache=cache, cache_ttl=60):
        yield gw


def sids(connection: dict[str, Any]) -> list[str]:
    return [node["sid"] for node in connection["nodes"]]


async def test_later_pages_of_an_ended_executions_kept_steps_are_never_served_as_page_one(
    emulator: Emulator, cache: Cache
) -> None:
    ended = emulator.seeded_handles.ended_execution
    where = {"f": ended.flow_sid, "e": ended.execution_sid}

    async def steps(gw: Gateway, n: int, after: str | None = None) -> dict[str, Any]:
        data = await gw.data(STEPS, {**where, "n": n, "after": after})
        connection: dict[str, Any] = data["execution"]["steps"]
        return connection

    async for plain in gateway_with(emulator, None):
        whole = sids(await steps(plain, 50))
    assert len(whole) == 5
    async for gw in gateway_with(emulator, cache):
        # A full page's end cursor points at the next page (Studio's Page=1 and token).
        first = await steps(gw, 2)
        assert sids(first) == whole[:2]
        second = await steps(gw, 2, first["pageInfo"]["endCursor"])
        assert sids(second) == whole[2:4]
        third = await steps(gw, 2, second["pageInfo"]["endCursor"])
        assert sids(third) == whole[4:]
        # Every page again, each now from the cache and each still itself.
        for page, expected in ((first, whole[2:4]), (second, whole[4:])):
            again = await steps(gw, 2, page["pageInfo"]["endCursor"])
            assert sids(again) == expected
            assert gw.calls[STEPS_ROUTE] == 0, "the page was not kept: this proves nothing"
        assert sids(await steps(gw, 3)) == whole[:3]  # another size is another page


#: Each paged list: a document reading three of its pages at once (two sizes from its
#: start, and the page after the first), and where its connections are in `data`.
LISTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "flows": (
        """query($after: String) {
        a: flows(first: 2) { nodes { sid } pageInfo { endCursor } }
        b: flows(first: 2, after: $after) { nodes { sid } }
        c: flows(first: 3) { nodes { sid } } }""",
        (),
    ),
    "revisions": (
        """query($f: ID!, $after: String) { flow(sid: $f) {
        a: revisions(first: 2) { nodes { sid: revision } pageInfo { endCursor } }
        b: revisions(first: 2, after: $after) { nodes { sid: revision } }
        c: revisions(first: 3) { nodes { sid: revision } } } }""",
        ("flow",),
    ),
    "executions": (
        """query($f: ID!, $after: String) { flow(sid: $f) {
        a: executions(first: 2) { nodes { sid } pageInfo { endCursor } }
        b: executions(first: 2, after: $after) { nodes { sid } }
        c: executions(first: 3) { nodes { sid } } } }""",
        ("flow",),
    ),
    "steps": (
        """query($f: ID!, $e: ID!, $after: String) { execution(flowSid: $f, sid: $e) {
        a: steps(first: 2) { nodes { sid } pageInfo { endCursor } }
        b: steps(first: 2, after: $after) { nodes { sid } }
        c: steps(first: 3) { nodes { sid } } } }""",
        ("execution",),
    ),
}


def long_lists(emulator: Emulator) -> dict[str, str]:
    """The survey (several revisions and executions) and one of its executions with more
    than three steps."""
    flow_sid = emulator.seeded_handles.survey_flow_sid
    executions = emulator.account(emulator.account_sid).flows[flow_sid].executions
    execution_sid = next(sid for sid, e in executions.items() if len(e.steps) > 3)
    return {"f": flow_sid, "e": execution_sid}


@pytest.mark.parametrize("name", sorted(LISTS))
async def test_one_operation_reading_several_pages_of_a_list_gets_each_page(
    emulator: Emulator, name: str
) -> None:
    document, path = LISTS[name]
    ids = long_lists(emulator)
    variables = {k: v for k, v in ids.items() if f"${k}:" in document}

    def lists(data: dict[str, Any]) -> dict[str, Any]:
        for field in path:
            data = data[field]
        return data

    async for gw in gateway_with(emulator, None):
        # Where the list's second page starts, from a first request.
        cursor = lists(await gw.data(document, variables))["a"]["pageInfo"]["endCursor"]
        assert cursor

        found = lists(await gw.data(document, {**variables, "after": cursor}))

    one, two, three = sids(found["a"]), sids(found["b"]), sids(found["c"])
    assert len(one) == 2 and len(three) == 3
    assert three[:2] == one  # the same start at another size
    assert two and not set(two) & set(one)  # the page after it


FILTERED = """query($f: ID!, $g: ID!) {
  flow(sid: $f) {
    all: executions(first: 20) { nodes { sid status } }
    active: executions(first: 20, status: ACTIVE) { nodes { sid status } }
    ended: executions(first: 20, status: ENDED) { nodes { sid status } }
  }
  other: flow(sid: $g) { executions(first: 20) { nodes { sid } } } }"""


async def test_one_operation_reading_a_list_with_other_filters_or_of_another_parent_gets_each(
    emulator: Emulator,
) -> None:
    handles = emulator.seeded_handles
    variables = {"f": handles.survey_flow_sid, "g": handles.ivr_flow_sid}
    async for gw in gateway_with(emulator, None):
        data = await gw.data(FILTERED, variables)
    flow = data["flow"]
    assert {n["status"] for n in flow["active"]["nodes"]} == {"ACTIVE"}
    assert {n["status"] for n in flow["ended"]["nodes"]} == {"ENDED"}
    assert len(flow["all"]["nodes"]) == len(flow["active"]["nodes"]) + len(flow["ended"]["nodes"])
    theirs = {n["sid"] for n in data["other"]["executions"]["nodes"]}
    assert theirs and not theirs & {n["sid"] for n in flow["all"]["nodes"]}
