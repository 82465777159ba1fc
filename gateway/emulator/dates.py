"""Dates as Twilio writes them, and the date filters it reads."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Final

# The twilio SDK parses only this exact format; anything else reaches its users as str.
TWILIO_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"


def format_date(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).strftime(TWILIO_FORMAT)


def utc_now() -> datetime:
    """The current time, whole seconds: Twilio's dates carry no fraction."""
    return datetime.now(UTC).replace(microsecond=0)


def parse_filter_date(raw: str) -> datetime:
    """Read a DateCreatedFrom/DateCreatedTo value.

    Twilio documents `YYYY-MM-DDThh:mm:ss-hh:mm`, its own examples pass bare
    dates, and SDKs send `...Z`. A naive time is taken as UTC. Raises ValueError.
    """
    # A "+hh:mm" offset that was not percent-encoded arrives as a space.
    text = raw.strip().replace(" ", "+")
    if len(text) == 10:
        day = date.fromisoformat(text)
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
