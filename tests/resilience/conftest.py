"""The fault matrix's rig (`tests.support.rig`): the emulator and the gateway on real sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gateway.emulator import Emulator
from tests.support import Rig, open_rig


@pytest.fixture
async def rig(emulator: Emulator, emulator_url: str) -> AsyncIterator[Rig]:
    async with open_rig(emulator, emulator_url) as opened:
        yield opened
