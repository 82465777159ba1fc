"""Twilio SIDs: two letters naming the kind of resource, then 32 hex digits."""

from __future__ import annotations

import hashlib
import random
import re
from typing import Final

ACCOUNT: Final = "AC"
API_KEY: Final = "SK"
FLOW: Final = "FW"
EXECUTION: Final = "FN"
STEP: Final = "FT"
CONTACT: Final = "FC"
USER: Final = "US"
MESSAGE: Final = "SM"
CALL: Final = "CA"
REQUEST: Final = "RQ"

# The spec's own patterns accept either case of hex; Twilio mints lowercase only.
_HEX32: Final = re.compile(r"[0-9a-fA-F]{32}")


def is_sid(value: str, prefix: str) -> bool:
    """True when `value` is a well-formed SID of the kind `prefix` names."""
    return len(value) == 34 and value.startswith(prefix) and _HEX32.fullmatch(value, 2) is not None


def fixed_sid(prefix: str, name: str) -> str:
    """A SID derived from a name, for things that must look real but never vary."""
    return prefix + hashlib.md5(name.encode(), usedforsecurity=False).hexdigest()


class SidFactory:
    """Mints SIDs from a seeded generator, so seeded data is the same on every run."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def new(self, prefix: str) -> str:
        return f"{prefix}{self._rng.getrandbits(128):032x}"
