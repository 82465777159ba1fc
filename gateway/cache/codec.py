"""Records to bytes and back, for every layer of the cache."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any


def encode(record: Any) -> bytes:
    """A record (or a list of them, or a page) as JSON bytes."""
    return json.dumps(_plain(record), separators=(",", ":")).encode()


def decode(data: bytes) -> Any:
    return json.loads(data)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
