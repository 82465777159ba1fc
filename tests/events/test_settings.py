"""The events settings: which token signs deliveries, and what is refused at start."""

from __future__ import annotations

import pytest

from gateway.events.watch import LiveConfig
from gateway.settings import SettingsError, load_settings

ACCOUNT = "AC" + "a" * 32


OTHER = "AC" + "c" * 32


def test_the_events_token_wins_over_the_accounts_own() -> None:
    both = load_settings(
        _env_file=None,
        events=True,
        twilio_account_sid=ACCOUNT,
        twilio_api_key="SK" + "b" * 32,
        twilio_api_secret="secret",
        events_auth_token="events-token",
    )
    assert both.events_signers() == [(ACCOUNT, "events-token")]
    own = load_settings(
        _env_file=None, events=True, twilio_account_sid=ACCOUNT, twilio_auth_token="own-token"
    )
    assert own.events_signers() == [(ACCOUNT, "own-token")]


def test_other_accounts_are_listed_each_with_its_token() -> None:
    listed = load_settings(
        _env_file=None,
        events=True,
        twilio_account_sid=ACCOUNT,
        twilio_auth_token="own-token",
        events_auth_tokens=f" {OTHER}:other-token , {OTHER}:rotated-token",
    )
    assert listed.events_signers() == [
        (ACCOUNT, "own-token"),
        (OTHER, "other-token"),
        (OTHER, "rotated-token"),
    ]
    # Pass-through with no account of its own: the list alone.
    alone = load_settings(
        _env_file=None,
        events=True,
        upstream_credentials="passthrough",
        events_auth_tokens=f"{OTHER}:other-token",
    )
    assert alone.events_signers() == [(OTHER, "other-token")]


@pytest.mark.parametrize(
    "listed",
    ["AC123:secret-token", f"{OTHER}:", f"{OTHER}", f"{OTHER}:t,secret-token"],
)
def test_a_wrong_account_token_pair_is_named_by_its_place_never_its_token(listed: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None, events_auth_tokens=listed)
    message = str(caught.value)
    assert message.startswith("STUDIO_GATEWAY_EVENTS_AUTH_TOKENS: item ")
    assert "secret-token" not in message and OTHER not in message


def test_an_events_token_naming_no_account_is_refused_at_start() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(
            _env_file=None,
            events=True,
            upstream_credentials="passthrough",
            events_auth_token="events-token",
        )
    assert str(caught.value).startswith("STUDIO_GATEWAY_EVENTS_AUTH_TOKEN: it signs for")
    assert "events-token" not in str(caught.value)


def test_events_without_a_signing_token_are_refused_at_start() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(
            _env_file=None,
            events=True,
            twilio_account_sid=ACCOUNT,
            twilio_api_key="SK" + "b" * 32,
            twilio_api_secret="secret",
        )
    assert str(caught.value).startswith("STUDIO_GATEWAY_EVENTS_AUTH_TOKEN: events need")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("events_path", "webhooks", "STUDIO_GATEWAY_EVENTS_PATH: must start with /"),
        ("events_public_url", "gw.example.com/hook", "must start with http:// or https://"),
    ],
)
def test_a_wrong_events_setting_names_itself(field: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None, **{field: value})
    assert message in str(caught.value)


def test_only_webhook_events_wait_in_the_reorder_window() -> None:
    webhook = load_settings(
        _env_file=None, events=True, twilio_account_sid=ACCOUNT, twilio_auth_token="t"
    )
    polled = load_settings(
        _env_file=None,
        events=True,
        events_source="poll",
        twilio_account_sid=ACCOUNT,
        twilio_auth_token="t",
    )
    assert LiveConfig.configured(webhook).reorder == webhook.events_reorder_window > 0
    assert LiveConfig.configured(polled).reorder == 0
