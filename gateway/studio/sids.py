"""Twilio SIDs: two letters naming the resource kind, then 32 hex digits.

A malformed SID can never name anything upstream, so it is rejected here,
before any request is built.
"""

from __future__ import annotations

import re
from typing import Final

from gateway.studio.errors import InvalidSid

_HEX32: Final = re.compile(r"[0-9a-fA-F]{32}")

#: What each prefix names, for error messages.
KINDS: Final[dict[str, str]] = {
    "AC": "account",
    "FW": "flow",
    "FN": "execution",
    "FT": "execution step",
    "FC": "contact",
    "US": "user",
    "SK": "API key",
}


def is_sid(prefix: str, value: object) -> bool:
    """True when `value` is a well-formed SID with that prefix."""
    return (
        isinstance(value, str)
        and len(value) == 34
        and value.startswith(prefix)
        and _HEX32.fullmatch(value, 2) is not None
    )


def validate(prefix: str, value: object) -> str:
    """Return `value` when it is a SID with `prefix`; raise InvalidSid otherwise."""
    if is_sid(prefix, value):
        return value  # type: ignore[return-value]  # is_sid proved it is a str
    kind = KINDS.get(prefix, prefix)
    shown = _shown(value)
    raise InvalidSid(
        f"{shown} is not a valid {kind} SID: expected {prefix!r} followed by 32 hex digits"
    )


def _shown(value: object) -> str:
    # Echo a short, printable prefix of what was given: enough to recognise,
    # never a whole pasted secret.
    if not isinstance(value, str):
        return f"a {type(value).__name__}"
    text = value if len(value) <= 40 else value[:37] + "..."
    return repr(text.encode("ascii", "backslashreplace").decode("ascii"))
