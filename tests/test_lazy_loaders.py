"""Loaders are made on first use: an operation pays only for the ones it reads."""

from __future__ import annotations

from gateway.emulator import DEMO_ACCOUNT_SID, Emulator
from gateway.loaders import Loaders
from gateway.studio import StudioClient


async def test_only_the_loaders_an_operation_reads_are_made(
    emulator: Emulator, studio: StudioClient
) -> None:
    loaders = Loaders(studio)
    assert not {"flow", "execution", "steps_page"} & set(vars(loaders))

    flow_sid = next(iter(emulator.account(DEMO_ACCOUNT_SID).flows))
    flow = await loaders.flow.load(flow_sid)

    assert flow.sid == flow_sid
    assert loaders.flow is loaders.flow  # one per operation: its memory of this request
    made = {name for name, value in vars(loaders).items() if hasattr(value, "load")}
    assert made == {"flow"}
