"""Settings take their defaults from the value objects they build: one source of truth."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from gateway.cache import IMMUTABLE_TTL
from gateway.graphql.limits import Limits
from gateway.http.compression import THREAD_BYTES
from gateway.keeping import READ_AHEAD_MARGIN
from gateway.settings import Settings, SettingsError, load_settings
from gateway.settings.core import MAX_CALL_DEADLINE
from gateway.studio import ClientConfig


def test_default_settings_build_the_default_client_config() -> None:
    config = Settings(_env_file=None).client_config()
    assert config == dataclasses.replace(ClientConfig(), base_url=config.base_url)


def test_default_settings_carry_the_default_limits_and_cache_ttl() -> None:
    settings = Settings(_env_file=None)
    names = [f.name for f in dataclasses.fields(Limits) if f.name != "introspection"]
    assert Limits(**{name: getattr(settings, name) for name in names}) == Limits()
    assert settings.cache_ttl == IMMUTABLE_TTL
    assert settings.compress_thread_bytes == THREAD_BYTES


def test_a_call_deadline_longer_than_the_cache_margin_allows_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A read joining one in flight may have started a deadline earlier; the margin
    # an ended execution's children must be read after has to cover that.
    assert timedelta(seconds=MAX_CALL_DEADLINE) < READ_AHEAD_MARGIN
    monkeypatch.setenv("STUDIO_GATEWAY_CALL_DEADLINE", str(MAX_CALL_DEADLINE + 1))
    with pytest.raises(SettingsError, match="STUDIO_GATEWAY_CALL_DEADLINE") as refused:
        load_settings()
    assert "45" in str(refused.value)
    monkeypatch.setenv("STUDIO_GATEWAY_CALL_DEADLINE", str(MAX_CALL_DEADLINE))
    assert load_settings().call_deadline == MAX_CALL_DEADLINE
