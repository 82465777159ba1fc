"""What each setting is, read from the settings model itself: its variable, default,
description and group, and where an effective value came from.

`studio-gateway settings`, the CLI's help and the documentation's settings table
are all built from here, so a setting added to the model documents itself.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from dotenv import dotenv_values
from pydantic import AliasChoices, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings

from gateway.settings.core import Settings

__all__ = ["MASK", "Setting", "Source", "effective", "setting", "settings_by_group"]

#: What a secret's value is shown as.
MASK = "********"
Source = Literal["default", "environment", ".env"]


@dataclass(frozen=True)
class Setting:
    """One setting as a person reads about it."""

    field: str
    env: str
    default: str
    description: str
    secret: bool
    group: str

    def help(self) -> str:
        """A command-line option's help: the description, its variable and default."""
        return f"{self.description} [env {self.env}; default {self.default}]"


def setting(name: str, model: type[BaseSettings] = Settings) -> Setting:
    """The setting behind `model`'s field `name`."""
    field = model.model_fields[name]
    return Setting(
        field=name,
        env=_env_var(name, field, model),
        default=_default(field),
        description=field.description or "",
        secret=_is_secret(field),
        group=_group(name, model),
    )


def settings_by_group(model: type[BaseSettings] = Settings) -> dict[str, list[Setting]]:
    """Every setting under the title of the class that declares it: the model's own
    first, then its bases' in the order Python looks them up."""
    groups: dict[str, list[Setting]] = {}
    for name in model.model_fields:
        described = setting(name, model)
        groups.setdefault(described.group, []).append(described)
    order = [_title(cls) for cls in model.__mro__]
    return {title: groups[title] for title in sorted(groups, key=order.index)}


def effective(
    settings: Settings,
    *,
    environ: Mapping[str, str] | None = None,
    env_file: Path = Path(".env"),
) -> Iterator[tuple[Setting, str, Source]]:
    """Each setting with its value as the gateway would use it (secrets masked) and where
    the value came from: the environment wins over `.env`, which wins over the default."""
    environ = os.environ if environ is None else environ
    # pydantic-settings reads variable names without regard to case.
    from_environment = {name.upper() for name in environ}
    from_file = (
        {str(name).upper() for name in dotenv_values(env_file)} if env_file.is_file() else set()
    )
    for described in (s for group in settings_by_group(type(settings)).values() for s in group):
        name = described.field
        source: Source = "default"
        if described.env in from_environment:
            source = "environment"
        elif described.env in from_file:
            source = ".env"
        yield described, shown(getattr(settings, name)), source


def shown(value: Any) -> str:
    """A value as printed: secrets masked, a URL's password too, unset as `unset`."""
    if isinstance(value, SecretStr):
        return MASK if value.get_secret_value() else ""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, float):
        return f"{value:g}"
    text = str(value)
    return _without_password(text) if "://" in text else text


def _without_password(url: str) -> str:
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    if not password:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}"))


def _env_var(name: str, field: FieldInfo, model: type[BaseSettings]) -> str:
    alias = field.validation_alias
    if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str):
        return alias.choices[0].upper()
    if isinstance(alias, str):
        return alias.upper()
    return f"{model.model_config.get('env_prefix', '')}{name}".upper()


def _default(field: FieldInfo) -> str:
    if field.default is PydanticUndefined:
        return "required"
    return shown(field.default) if not _is_secret(field) else "unset"


def _is_secret(field: FieldInfo) -> bool:
    return "SecretStr" in str(field.annotation)


def _group(name: str, model: type[BaseSettings]) -> str:
    """The title of the class that declares the field (its `group_title`, else its name)."""
    for cls in model.__mro__:
        if name in inspect.get_annotations(cls):
            return _title(cls)
    return _title(model)


def _title(cls: type) -> str:
    title = cls.__dict__.get("group_title")
    return title if isinstance(title, str) else cls.__name__
