"""Settings take their defaults from the value objects they build: one source of truth."""

from __future__ import annotations

import dataclasses

from gateway.cache import IMMUTABLE_TTL
from gateway.graphql.limits import Limits
from gateway.settings import Settings
from gateway.studio import ClientConfig


def test_default_settings_build_the_default_client_config() -> None:
    config = Settings(_env_file=None).client_config()
    assert config == dataclasses.replace(ClientConfig(), base_url=config.base_url)


def test_default_settings_carry_the_default_limits_and_cache_ttl() -> None:
    settings = Settings(_env_file=None)
    names = [f.name for f in dataclasses.fields(Limits) if f.name != "introspection"]
    assert Limits(**{name: getattr(settings, name) for name in names}) == Limits()
    assert settings.cache_ttl == IMMUTABLE_TTL
