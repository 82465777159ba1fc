"""The credentials Twilio has accepted: known by digest, forgotten when refused."""

from __future__ import annotations

import pytest

from gateway.emulator import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, Emulator
from gateway.studio import Credentials, StudioClient, StudioError
from gateway.studio.accepted import AcceptedCredentials, credentials_digest
from tests.support import asgi_transport


async def test_credentials_are_accepted_once_twilio_answers_them(emulator: Emulator) -> None:
    client = StudioClient(
        asgi_transport(emulator), Credentials.auth_token(DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN)
    )
    assert not client.accepted
    await client.list_flows()
    assert client.accepted
    await client.aclose()


async def test_a_guessed_token_is_never_accepted_and_others_stay_so(emulator: Emulator) -> None:
    right = StudioClient(
        asgi_transport(emulator), Credentials.auth_token(DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN)
    )
    guess = right.with_credentials(Credentials.auth_token(DEMO_ACCOUNT_SID, "a-guessed-token"))
    await right.list_flows()
    with pytest.raises(StudioError):
        await guess.list_flows()
    assert right.accepted and not guess.accepted
    await right.aclose()


async def test_credentials_twilio_refuses_later_are_forgotten(emulator: Emulator) -> None:
    client = StudioClient(
        asgi_transport(emulator), Credentials.auth_token(DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN)
    )
    await client.list_flows()
    emulator.account(DEMO_ACCOUNT_SID).auth_token = "rotated-token"
    with pytest.raises(StudioError) as refused:
        await client.list_flows()
    assert refused.value.status == 401
    assert not client.accepted
    await client.aclose()


def test_the_record_holds_digests_only_and_keeps_the_most_recent() -> None:
    accepted = AcceptedCredentials(limit=2)
    for token in ("one", "two", "three"):
        accepted.answered((DEMO_ACCOUNT_SID, token), 200)
    assert len(accepted) == 2
    assert not accepted.holds(credentials_digest(DEMO_ACCOUNT_SID, "one"))
    assert accepted.holds(credentials_digest(DEMO_ACCOUNT_SID, "three"))
    assert "three" not in repr(accepted)


def test_an_error_that_is_not_about_the_credentials_changes_nothing() -> None:
    accepted = AcceptedCredentials()
    auth = (DEMO_ACCOUNT_SID, "token")
    accepted.answered(auth, None)  # no answer at all
    assert not accepted.holds(credentials_digest(*auth))
    accepted.answered(auth, 200)
    for status in (404, 429, 500, None):
        accepted.answered(auth, status)
    assert accepted.holds(credentials_digest(*auth))
    accepted.answered(auth, 403)
    assert not accepted.holds(credentials_digest(*auth))
