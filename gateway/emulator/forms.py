"""Reading request parameters: form-encoded POST bodies, as Twilio requires."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from gateway.emulator.errors import invalid_parameter, missing_parameter


@dataclass(frozen=True, slots=True)
class Form:
    """A POST body's parameters, in order, with repeated keys kept."""

    pairs: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, body: bytes, content_type: str | None) -> Form:
        # Twilio reads only form bodies; a JSON body reaches it as no parameters.
        media_type = (content_type or "").split(";")[0].strip().lower()
        if media_type not in ("", "application/x-www-form-urlencoded"):
            return cls()
        text = body.decode("utf-8", errors="replace")
        return cls(tuple(parse_qsl(text, keep_blank_values=True)))

    def get(self, name: str) -> str | None:
        return next((value for key, value in self.pairs if key == name), None)

    def get_all(self, name: str) -> list[str]:
        return [value for key, value in self.pairs if key == name]

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None or value == "":
            raise missing_parameter(name)
        return value

    def choice(self, name: str, allowed: Sequence[str], *, required: bool) -> str | None:
        value = self.require(name) if required else self.get(name)
        if value is not None and value not in allowed:
            raise invalid_parameter(name, f"must be one of {', '.join(allowed)}")
        return value

    def json(self, name: str, *, required: bool) -> Any:
        raw = self.require(name) if required else self.get(name)
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise invalid_parameter(name, "must be a JSON string") from None
