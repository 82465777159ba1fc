"""The realistic flows a seeded account is made of, in seeding order."""

from __future__ import annotations

from typing import Final

from gateway.emulator.catalog.care import REMINDER, VERIFY
from gateway.emulator.catalog.sms import ORDER_BOT, SPANISH_SURVEY, SURVEY
from gateway.emulator.catalog.template import FlowTemplate, Refs
from gateway.emulator.catalog.voice import IVR

# The order matters: seed.py names seeded handles by these positions.
# The first five hold everything the seeded handles name; the order bot adds realism.
CATALOG: Final[tuple[FlowTemplate, ...]] = (
    SURVEY,
    IVR,
    REMINDER,
    VERIFY,
    SPANISH_SURVEY,
    ORDER_BOT,
)
HANDLED_FLOWS: Final = 5

__all__ = ["CATALOG", "HANDLED_FLOWS", "FlowTemplate", "Refs"]
