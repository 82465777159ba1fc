"""What the settings modules share: reading comma-separated and secret values."""

from __future__ import annotations

from pydantic import SecretStr


def items(text: str) -> list[str]:
    """A comma-separated setting's items."""
    return [item.strip() for item in text.split(",") if item.strip()]


def secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""
