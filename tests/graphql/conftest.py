"""A gateway in front of the emulator, with a small GraphQL client (`tests.support.Gateway`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gateway.emulator import Emulator
from tests.support import Gateway, open_gateway


@pytest.fixture
async def gateway(emulator: Emulator) -> AsyncIterator[Gateway]:
    async for gw in open_gateway(emulator):
        yield gw
