"""The events settings: which token signs deliveries, and what is refused at start."""

from __future__ import annotations

import pytest

from gateway.events.watch import LiveConfig
from gateway.settings import SettingsError, load_settings

ACCOUNT = "AC" + "a" * 32


def test_the_events_token_wins_over_the_accounts_own() -> None:
    both = load_settings(
        _env_file=None,
        events=True,
        twilio_account_sid=ACCOUNT,
        twilio_api_key="SK" + "b" * 32,
        twilio_api_secret="secret",
        events_auth_token="events-token",
    )
    assert both.events_key() == "events-token"
    own = load_settings(
        _env_file=None, events=True, twilio_account_sid=ACCOUNT, twilio_auth_token="own-token"
    )
    assert own.events_key() == "own-token"


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
