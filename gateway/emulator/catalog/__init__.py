"""The realistic flows a seeded account is made of, in seeding order."""

from __future__ import annotations

from typing import Final

from gateway.emulator.catalog.care import REMINDER, VERIFY
from gateway.emulator.catalog.sms import ORDER_BOT, SPANISH_SURVEY, SURVEY
from gateway.emulator.catalog.template import FlowTemplate, Refs
from gateway.emulator.catalog.voice import IVR

# The order matters: seed.py names seeded handles by these positions.
CATALOG: Final[tuple[FlowTemplate, ...]] = (
    SURVEY,
    IVR,
    REMINDER,
    ORDER_BOT,
    VERIFY,
    SPANISH_SURVEY,
)

__all__ = ["CATALOG", "FlowTemplate", "Refs"]
