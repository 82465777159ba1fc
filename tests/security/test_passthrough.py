"""Pass-through credentials: each request's own Twilio account, and nothing crosses accounts."""

from __future__ import annotations

from gateway.emulator import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, Emulator
from tests.support import basic, codes, secured

OTHER_SID, OTHER_TOKEN = "AC" + "5e" * 16, "second-account-token-5e5e"
FLOWS = "{ flows(first: 50) { nodes { sid friendlyName } } }"


async def test_each_request_reads_its_own_account(emulator: Emulator) -> None:
    emulator.add_account(OTHER_SID, OTHER_TOKEN, seed=99, flows=5)
    async with secured(emulator, upstream_credentials="passthrough") as http:
        mine = (
            await http.post(
                "/graphql", json={"query": FLOWS}, headers=basic(DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN)
            )
        ).json()
        theirs = (
            await http.post(
                "/graphql", json={"query": FLOWS}, headers=basic(OTHER_SID, OTHER_TOKEN)
            )
        ).json()
    mine_sids = {f["sid"] for f in mine["data"]["flows"]["nodes"]}
    theirs_sids = {f["sid"] for f in theirs["data"]["flows"]["nodes"]}
    assert mine_sids == set(emulator.account(DEMO_ACCOUNT_SID).flows)
    assert theirs_sids == set(emulator.account(OTHER_SID).flows)
    assert not mine_sids & theirs_sids


async def test_cached_data_is_never_served_to_a_caller_who_only_names_the_account(
    emulator: Emulator,
) -> None:
    ended = emulator.seeded_handles.ended_execution
    document = "query($f: ID!, $e: ID!) { execution(flowSid: $f, sid: $e) { status steps { nodes { sid } } } }"
    variables = {"f": ended.flow_sid, "e": ended.execution_sid}
    async with secured(emulator, upstream_credentials="passthrough", cache_ttl=60) as http:
        warm = (
            await http.post(
                "/graphql",
                json={"query": document, "variables": variables},
                headers=basic(DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN),
            )
        ).json()
        assert warm["data"]["execution"]["status"] == "ENDED"
        emulator.reset_counters()
        guess = (
            await http.post(
                "/graphql",
                json={"query": document, "variables": variables},
                headers=basic(DEMO_ACCOUNT_SID, "a-guessed-token"),
            )
        ).json()
    assert guess["data"]["execution"] is None
    assert codes(guess) == ["UNAUTHENTICATED"]
    assert emulator.total_requests == 1, "the guess went to Twilio, which refused it"


async def test_missing_or_malformed_pass_through_credentials_are_401(emulator: Emulator) -> None:
    async with secured(emulator, upstream_credentials="passthrough") as http:
        emulator.reset_counters()
        missing = await http.post("/graphql", json={"query": FLOWS})
        bearer = await http.post(
            "/graphql", json={"query": FLOWS}, headers={"Authorization": "Bearer x"}
        )
        not_account = await http.post(
            "/graphql", json={"query": FLOWS}, headers=basic("nobody", "x")
        )
    for response in (missing, bearer, not_account):
        assert response.status_code == 401
        assert codes(response.json()) == ["UNAUTHENTICATED"]
    assert emulator.total_requests == 0


async def test_pass_through_credentials_never_reach_the_logs(emulator: Emulator, caplog) -> None:
    async with secured(emulator, upstream_credentials="passthrough") as http:
        await http.post(
            "/graphql", json={"query": FLOWS}, headers=basic(DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN)
        )
        await http.post(
            "/graphql", json={"query": FLOWS}, headers=basic(DEMO_ACCOUNT_SID, "wrong-token-xyz")
        )
    text = caplog.text
    assert DEMO_AUTH_TOKEN not in text and "wrong-token-xyz" not in text


def test_cache_scopes_differ_by_credentials_and_hold_no_secret() -> None:
    from gateway.studio import Credentials

    a = Credentials.auth_token(DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN)
    b = Credentials.auth_token(DEMO_ACCOUNT_SID, "another")
    assert a.scope != b.scope and a.scope.startswith(DEMO_ACCOUNT_SID)
    assert DEMO_AUTH_TOKEN not in a.scope


async def test_a_guessed_token_reads_nothing_ahead_of_a_flows_own_refusal(
    emulator: Emulator,
) -> None:
    flow_sid = emulator.seeded_handles.survey_flow_sid
    document = """query($f: ID!) { flow(sid: $f) { sid executions(first: 2) { nodes { sid } }
      revisions(first: 2) { nodes { revision } } } }"""
    async with secured(emulator, upstream_credentials="passthrough") as http:
        good = await http.post(
            "/graphql",
            json={"query": document, "variables": {"f": flow_sid}},
            headers=basic(DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN),
        )
        assert good.json()["data"]["flow"]["executions"]["nodes"]
        emulator.reset_counters()
        guess = await http.post(
            "/graphql",
            json={"query": document, "variables": {"f": flow_sid}},
            headers=basic(DEMO_ACCOUNT_SID, "a-guessed-token"),
        )
    assert guess.json()["data"]["flow"] is None
    assert codes(guess.json()) == ["UNAUTHENTICATED"]
    assert emulator.total_requests == 1, "only the flow's own fetch, which Twilio refused"
