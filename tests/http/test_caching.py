"""HTTP caching: what never changes may be kept by the client and revalidated;
everything else is no-store, and Vary names who asked."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import httpx

from gateway.emulator import Emulator
from tests.support import codes, ended_ago, secured

REVISION = """query Revision($id: ID!) {
  node(id: $id) { ... on FlowRevision { revision friendlyName status definition } }
}"""
EXECUTION = """query Execution($flow: ID!, $sid: ID!) {
  execution(flowSid: $flow, sid: $sid) {
    status context flowRevision { revision }
    steps(first: 20) { nodes { name transitionedTo context } }
  }
}"""
FLOWS = "{ flows(first: 5) { nodes { sid friendlyName } } }"
VARY = {"authorization", "x-api-key", "cookie", "origin", "accept", "accept-encoding"}


async def get(
    http: httpx.AsyncClient, document: str, variables: dict[str, Any] | None = None, **headers: str
) -> httpx.Response:
    params = {"query": document}
    if variables is not None:
        params["variables"] = json.dumps(variables)
    return await http.get("/graphql", params=params, headers=headers)


async def revision_id(http: httpx.AsyncClient, flow_sid: str, number: int) -> str:
    document = (
        "query F($sid: ID!, $n: Int!) { flow(sid: $sid) { flowRevision(number: $n) { id } } }"
    )
    response = await http.post(
        "/graphql", json={"query": document, "variables": {"sid": flow_sid, "n": number}}
    )
    return str(response.json()["data"]["flow"]["flowRevision"]["id"])


def vary(response: httpx.Response) -> set[str]:
    return {v.strip().lower() for v in response.headers.get("vary", "").split(",")}


async def test_a_revision_by_number_may_be_kept_and_has_a_strong_etag(emulator: Emulator) -> None:
    async with secured(emulator) as http:
        rid = await revision_id(http, emulator.seeded_handles.survey_flow_sid, 2)
        response = await get(http, REVISION, {"id": rid}, **{"Accept-Encoding": "identity"})

    assert response.status_code == 200
    assert response.json()["data"]["node"]["revision"] == 2
    assert response.headers["cache-control"] == "private, max-age=300"
    etag = response.headers["etag"]  # strong: over the bytes sent
    assert etag == '"' + hashlib.sha256(response.content).hexdigest()[:32] + '"'
    assert VARY <= vary(response)


async def test_a_repeat_with_if_none_match_is_304_with_no_body(emulator: Emulator) -> None:
    async with secured(emulator) as http:
        rid = await revision_id(http, emulator.seeded_handles.survey_flow_sid, 2)
        first = await get(http, REVISION, {"id": rid})
        again = await get(http, REVISION, {"id": rid}, **{"If-None-Match": first.headers["etag"]})
        weak = await get(
            http, REVISION, {"id": rid}, **{"If-None-Match": f'"other", W/{first.headers["etag"]}'}
        )
        other = await get(http, REVISION, {"id": rid}, **{"If-None-Match": '"other"'})

    for not_modified in (again, weak):
        assert not_modified.status_code == 304
        assert not_modified.content == b""
        assert not_modified.headers["etag"] == first.headers["etag"]
        assert not_modified.headers["cache-control"] == "private, max-age=300"
        assert VARY <= vary(not_modified)
    assert other.status_code == 200 and other.content == first.content


async def test_an_ended_execution_with_its_steps_and_contexts_may_be_kept(
    emulator: Emulator,
) -> None:
    flow_sid, sid = emulator.seeded_handles.ended_execution
    async with secured(emulator) as http:
        response = await get(http, EXECUTION, {"flow": flow_sid, "sid": sid})
    body = response.json()
    assert "errors" not in body and body["data"]["execution"]["status"] == "ENDED"
    assert body["data"]["execution"]["steps"]["nodes"]
    assert response.headers["cache-control"] == "private, max-age=300"
    assert "etag" in response.headers


async def test_an_execution_that_just_ended_is_no_store_read_ahead_or_not(
    emulator: Emulator,
) -> None:
    flow_sid, sid = emulator.seeded_handles.ended_execution
    ended_ago(emulator, flow_sid, sid, timedelta(0))
    async with secured(emulator, cache_ttl=60) as http:
        await http.post("/graphql", json={"query": FLOWS})  # Twilio accepts the credentials
        # Its steps and contexts go out beside it, before it is known ended, and it
        # ended too recently to prove they were all written: the answer is not kept.
        ahead = await get(http, EXECUTION, {"flow": flow_sid, "sid": sid})
        # Now the shared cache knows it ended, but within the margin: Studio may
        # still be writing its step log, so what is read of it is not final either.
        known = await get(http, EXECUTION, {"flow": flow_sid, "sid": sid})
    assert ahead.json() == known.json() and "errors" not in known.json()
    for answer in (ahead, known):
        assert answer.headers["cache-control"] == "no-store"
        assert "etag" not in answer.headers


async def test_an_execution_read_ahead_of_its_own_answer_may_be_kept_if_it_ended_long_before(
    emulator: Emulator,
) -> None:
    flow_sid, sid = emulator.seeded_handles.ended_execution
    ended_ago(emulator, flow_sid, sid, timedelta(days=1))
    async with secured(emulator, cache_ttl=60) as http:
        await http.post("/graphql", json={"query": FLOWS})  # Twilio accepts the credentials
        ahead = await get(http, EXECUTION, {"flow": flow_sid, "sid": sid})
    body = ahead.json()
    assert "errors" not in body and body["data"]["execution"]["steps"]["nodes"]
    assert ahead.headers["cache-control"] == "private, max-age=300"
    assert "etag" in ahead.headers


async def test_an_active_execution_is_no_store(emulator: Emulator) -> None:
    active = emulator.seeded_handles.active_execution
    async with secured(emulator) as http:
        response = await get(
            http, EXECUTION, {"flow": active.flow_sid, "sid": active.execution_sid}
        )
    assert response.json()["data"]["execution"]["status"] == "ACTIVE"
    assert response.headers["cache-control"] == "no-store"
    assert "etag" not in response.headers


async def test_the_flows_list_is_no_store(emulator: Emulator) -> None:
    async with secured(emulator) as http:
        response = await get(http, FLOWS)
    assert response.json()["data"]["flows"]["nodes"]
    assert response.headers["cache-control"] == "no-store"
    assert "etag" not in response.headers
    assert VARY <= vary(response)


async def test_a_revision_beside_its_flow_is_no_store(emulator: Emulator) -> None:
    # The revision never changes; the flow's name beside it may.
    document = '{ flow(sid: "%s") { friendlyName flowRevision(number: 1) { definition } } }'
    async with secured(emulator) as http:
        response = await get(http, document % emulator.seeded_handles.survey_flow_sid)
    assert response.json()["data"]["flow"]["flowRevision"]["definition"]
    assert response.headers["cache-control"] == "no-store"


async def test_a_post_is_no_store(emulator: Emulator) -> None:
    async with secured(emulator) as http:
        rid = await revision_id(http, emulator.seeded_handles.survey_flow_sid, 2)
        response = await http.post("/graphql", json={"query": REVISION, "variables": {"id": rid}})
    assert response.json()["data"]["node"]["revision"] == 2
    assert response.headers["cache-control"] == "no-store"
    assert "etag" not in response.headers


async def test_an_answer_with_errors_is_no_store(emulator: Emulator) -> None:
    # Everything read never changes, but the error beside it may not be there next time.
    document = """query Two($id: ID!) {
      good: node(id: $id) { ... on FlowRevision { revision } }
      bad: node(id: "not-an-id") { id }
    }"""
    async with secured(emulator) as http:
        rid = await revision_id(http, emulator.seeded_handles.survey_flow_sid, 2)
        response = await get(http, document, {"id": rid})
        invalid = await get(http, "{ nope }")
    body = response.json()
    assert body["data"]["good"]["revision"] == 2
    assert codes(body) == ["BAD_USER_INPUT"]
    assert response.headers["cache-control"] == "no-store"
    assert invalid.headers["cache-control"] == "no-store"


async def test_each_coding_has_its_own_etag_and_revalidates(emulator: Emulator) -> None:
    async with secured(emulator) as http:
        rid = await revision_id(http, emulator.seeded_handles.survey_flow_sid, 2)
        plain = await get(http, REVISION, {"id": rid}, **{"Accept-Encoding": "identity"})
        packed = await get(http, REVISION, {"id": rid}, **{"Accept-Encoding": "gzip"})
        again = await get(
            http,
            REVISION,
            {"id": rid},
            **{"Accept-Encoding": "gzip", "If-None-Match": packed.headers["etag"]},
        )
    assert packed.headers["content-encoding"] == "gzip"
    assert plain.headers["etag"] != packed.headers["etag"]
    assert again.status_code == 304 and again.content == b""


async def test_a_persisted_query_hit_over_get_may_be_kept(emulator: Emulator) -> None:
    digest = hashlib.sha256(REVISION.encode()).hexdigest()
    extensions = json.dumps({"persistedQuery": {"version": 1, "sha256Hash": digest}})
    async with secured(emulator) as http:
        rid = await revision_id(http, emulator.seeded_handles.survey_flow_sid, 2)
        params = {"extensions": extensions, "variables": json.dumps({"id": rid})}
        unknown = await http.get("/graphql", params=params)
        await http.post(
            "/graphql",
            json={
                "query": REVISION,
                "variables": {"id": rid},
                "extensions": json.loads(extensions),
            },
        )
        hit = await http.get("/graphql", params=params)
    assert unknown.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert unknown.headers["cache-control"] == "no-store"
    assert hit.json()["data"]["node"]["revision"] == 2
    assert hit.headers["cache-control"] == "private, max-age=300"


async def test_the_max_age_is_a_setting_and_zero_stores_nothing(emulator: Emulator) -> None:
    for max_age, expected in ((60, "private, max-age=60"), (0, "no-store")):
        async with secured(emulator, http_cache_max_age=max_age) as http:
            rid = await revision_id(http, emulator.seeded_handles.survey_flow_sid, 2)
            response = await get(http, REVISION, {"id": rid})
        assert response.headers["cache-control"] == expected
