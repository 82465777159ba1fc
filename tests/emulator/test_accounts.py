"""Who may call: accounts, API keys, isolation between accounts, and from_env."""

from __future__ import annotations

import httpx
import pytest

from gateway.emulator import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, Emulator, create_app
from tests.support import SEEDED_AT

from . import contract

OTHER_SID = "AC" + "0123456789abcdef" * 2
OTHER_TOKEN = "other-token"
KEY_SID = "SK" + "f" * 32


@pytest.fixture
def two_accounts(emulator: Emulator) -> Emulator:
    emulator.add_account(OTHER_SID, OTHER_TOKEN, flows=6, executions_per_flow=3, now=SEEDED_AT)
    return emulator


async def call(
    emulator: Emulator, method: str, path: str, auth: tuple[str, str] | None
) -> httpx.Response:
    transport = httpx.ASGITransport(app=create_app(emulator))
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator.test") as http:
        return await http.request(method, path, auth=auth)


def test_the_demo_credentials_are_fixed() -> None:
    assert DEMO_ACCOUNT_SID == "ACdec0de5eed00000000000000000000e7"
    assert len(DEMO_ACCOUNT_SID) == 34 and DEMO_ACCOUNT_SID[2:] == DEMO_ACCOUNT_SID[2:].lower()
    assert Emulator.seeded().account_sid == DEMO_ACCOUNT_SID
    assert Emulator.seeded().account(DEMO_ACCOUNT_SID).auth_token == DEMO_AUTH_TOKEN


async def test_each_account_sees_only_its_own_flows(two_accounts: Emulator) -> None:
    mine = two_accounts.account(DEMO_ACCOUNT_SID)
    theirs = two_accounts.account(OTHER_SID)
    my_flow = next(iter(mine.flows))
    my_execution = next(iter(mine.flows[my_flow].executions))

    listed = contract.check(await call(two_accounts, "GET", "/v2/Flows", (OTHER_SID, OTHER_TOKEN)))
    assert [f["sid"] for f in listed["flows"]] == list(theirs.flows)
    assert not set(theirs.flows) & set(mine.flows)
    assert all(f["account_sid"] == OTHER_SID for f in listed["flows"])

    for path in (
        f"/v2/Flows/{my_flow}",
        f"/v2/Flows/{my_flow}/Executions",
        f"/v2/Flows/{my_flow}/Executions/{my_execution}",
    ):
        response = await call(two_accounts, "GET", path, (OTHER_SID, OTHER_TOKEN))
        assert response.status_code == 404
        contract.check(response)
    deleted = await call(two_accounts, "DELETE", f"/v2/Flows/{my_flow}", (OTHER_SID, OTHER_TOKEN))
    assert deleted.status_code == 404 and my_flow in mine.flows


async def test_an_account_may_be_empty(emulator: Emulator) -> None:
    emulator.add_account(OTHER_SID, OTHER_TOKEN, flows=0)
    body = contract.check(await call(emulator, "GET", "/v2/Flows", (OTHER_SID, OTHER_TOKEN)))
    assert body["flows"] == [] and body["meta"]["next_page_url"] is None


async def test_an_api_key_acts_as_its_account(two_accounts: Emulator) -> None:
    two_accounts.add_api_key(KEY_SID, "s3cret", OTHER_SID)

    with_key = contract.check(await call(two_accounts, "GET", "/v2/Flows", (KEY_SID, "s3cret")))
    wrong_secret = await call(two_accounts, "GET", "/v2/Flows", (KEY_SID, "nope"))
    key_as_token = await call(two_accounts, "GET", "/v2/Flows", (OTHER_SID, "s3cret"))

    assert [f["sid"] for f in with_key["flows"]] == list(two_accounts.account(OTHER_SID).flows)
    assert wrong_secret.status_code == 401 and contract.check(wrong_secret)["code"] == 20003
    assert key_as_token.status_code == 401


@pytest.mark.parametrize(
    "header",
    ["", "Bearer abc", "Basic !!!", "Basic " + "bm8tY29sb24=", "Basic " + "w6k6w6k="],
)
async def test_malformed_authorization_is_refused(emulator: Emulator, header: str) -> None:
    transport = httpx.ASGITransport(app=create_app(emulator))
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator.test") as http:
        response = await http.get("/v2/Flows", headers={"Authorization": header})
    assert response.status_code == 401
    assert contract.check(response)["message"] == "Authenticate"


def test_accounts_and_keys_must_be_well_formed(emulator: Emulator) -> None:
    with pytest.raises(ValueError, match="account SID"):
        emulator.add_account("AC123", "t")
    with pytest.raises(ValueError, match="already exists"):
        emulator.add_account(DEMO_ACCOUNT_SID, "t")
    with pytest.raises(ValueError, match="API key SID"):
        emulator.add_api_key("SK1", "s", DEMO_ACCOUNT_SID)
    with pytest.raises(ValueError, match="no account"):
        emulator.add_api_key(KEY_SID, "s", OTHER_SID)
    with pytest.raises(LookupError):
        emulator.account(OTHER_SID)


def test_from_env_uses_the_accounts_credentials_when_both_are_set() -> None:
    token = "a-real-looking-secret-token"
    emulator, message = Emulator.from_env(
        {"TWILIO_ACCOUNT_SID": OTHER_SID, "TWILIO_AUTH_TOKEN": token}, seed=3, flows=5
    )

    assert emulator.account_sid == OTHER_SID
    assert emulator.account(OTHER_SID).auth_token == token
    assert len(emulator.account(OTHER_SID).flows) == 5
    assert OTHER_SID in message and token not in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "environ",
    [{}, {"TWILIO_ACCOUNT_SID": OTHER_SID}, {"TWILIO_AUTH_TOKEN": "lonely-token"}],
)
def test_from_env_falls_back_to_the_demo_account(environ: dict[str, str]) -> None:
    emulator, message = Emulator.from_env(environ)

    assert emulator.account_sid == DEMO_ACCOUNT_SID
    assert DEMO_ACCOUNT_SID in message and DEMO_AUTH_TOKEN in message
    assert "lonely-token" not in message
    assert "\n" not in message


def test_from_env_refuses_a_malformed_account_sid() -> None:
    with pytest.raises(ValueError, match="TWILIO_ACCOUNT_SID") as raised:
        Emulator.from_env({"TWILIO_ACCOUNT_SID": "AC-nope", "TWILIO_AUTH_TOKEN": "secret-x"})
    assert "secret-x" not in str(raised.value)
