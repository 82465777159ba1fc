"""Credentials and hosts, read the way Twilio's SDKs read them."""

from __future__ import annotations

import base64

import pytest

from gateway.studio import Credentials, InvalidArgument, base_url_from_env, studio_base_url

ACCOUNT = "AC" + "1" * 32
KEY = "SK" + "2" * 32


def test_account_sid_and_auth_token() -> None:
    creds = Credentials.from_env({"TWILIO_ACCOUNT_SID": ACCOUNT, "TWILIO_AUTH_TOKEN": "tok3n"})
    assert creds.basic_auth == (ACCOUNT, "tok3n")
    assert creds.account_sid == ACCOUNT
    assert "tok3n" not in repr(creds)


def test_an_api_key_wins_over_the_auth_token_and_acts_for_the_account() -> None:
    creds = Credentials.from_env(
        {
            "TWILIO_ACCOUNT_SID": ACCOUNT,
            "TWILIO_AUTH_TOKEN": "tok3n",
            "TWILIO_API_KEY": KEY,
            "TWILIO_API_SECRET": "s3cret",
        }
    )
    assert creds.basic_auth == (KEY, "s3cret")
    assert creds.account_sid == ACCOUNT
    assert "s3cret" not in repr(creds)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "TWILIO_ACCOUNT_SID is not set"),
        ({"TWILIO_ACCOUNT_SID": ACCOUNT}, "TWILIO_AUTH_TOKEN"),
        ({"TWILIO_ACCOUNT_SID": ACCOUNT, "TWILIO_API_KEY": KEY}, "TWILIO_API_SECRET"),
        ({"TWILIO_ACCOUNT_SID": "AC123", "TWILIO_AUTH_TOKEN": "x"}, "account SID"),
    ],
)
def test_incomplete_credentials_say_what_is_missing(environ: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        Credentials.from_env(environ)


@pytest.mark.parametrize(
    ("region", "edge", "url"),
    [
        (None, None, "https://studio.twilio.com"),
        ("ie1", "dublin", "https://studio.dublin.ie1.twilio.com"),
        (None, "sydney", "https://studio.sydney.us1.twilio.com"),
        ("au1", None, "https://studio.au1.twilio.com"),
    ],
)
def test_region_and_edge_shape_the_host(region: str | None, edge: str | None, url: str) -> None:
    assert studio_base_url(region, edge) == url


def test_the_upstream_url_overrides_region_and_edge() -> None:
    environ = {
        "STUDIO_GATEWAY_UPSTREAM_URL": "http://127.0.0.1:8900/",
        "TWILIO_REGION": "ie1",
        "TWILIO_EDGE": "dublin",
    }
    assert base_url_from_env(environ) == "http://127.0.0.1:8900"
    assert base_url_from_env({"TWILIO_REGION": "ie1", "TWILIO_EDGE": "dublin"}) == (
        "https://studio.dublin.ie1.twilio.com"
    )


def test_pass_through_basic_credentials_are_parsed_and_checked() -> None:
    header = "Basic " + base64.b64encode(f"{ACCOUNT}:tok3n".encode()).decode()
    assert Credentials.from_basic_header(header).basic_auth == (ACCOUNT, "tok3n")
    for bad in ("Bearer abc", "Basic !!!", "Basic " + base64.b64encode(b"nobody:x").decode()):
        with pytest.raises(InvalidArgument) as caught:
            Credentials.from_basic_header(bad)
        assert "tok3n" not in str(caught.value)
