"""The loaders know whether what an operation read can ever change (`Loaders.reads`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from gateway.emulator import Emulator
from gateway.emulator.handles import SeededHandles
from gateway.loaders import Loader, Loaders, PageKey
from gateway.studio import StudioClient, StudioError


async def test_a_revision_by_number_is_immutable(emulator: Emulator, studio: StudioClient) -> None:
    loaders = Loaders(studio)
    await loaders.flow_revision.load((emulator.seeded_handles.survey_flow_sid, "2"))
    assert loaders.reads.only_immutable


async def test_an_ended_execution_its_context_and_steps_are_immutable(
    emulator: Emulator, studio: StudioClient
) -> None:
    flow_sid, sid = emulator.seeded_handles.ended_execution
    loaders = Loaders(studio)
    await loaders.execution.load((flow_sid, sid))
    await loaders.execution_context.load((flow_sid, sid))
    page = await loaders.steps_page.load(PageKey.of((flow_sid, sid), {"PageSize": "10"}))
    for step in page.items:
        await loaders.step_context.load((flow_sid, sid, step.sid))
    assert page.items
    assert loaders.reads.only_immutable


async def _alias(loaders: Loaders, seeded: SeededHandles) -> None:
    await loaders.flow_revision.load((seeded.survey_flow_sid, "LatestPublished"))


async def _active_execution(loaders: Loaders, seeded: SeededHandles) -> None:
    active = seeded.active_execution
    await loaders.execution.load((active.flow_sid, active.execution_sid))


async def _context_alone(loaders: Loaders, seeded: SeededHandles) -> None:
    # Whether the execution has ended is not known to this request: assume not.
    await loaders.execution_context.load(tuple(seeded.ended_execution))


async def _a_missing_revision(loaders: Loaders, seeded: SeededHandles) -> None:
    # Revision 999 is not there now; it may be later, so a null in its place may go.
    await loaders.flow_revision.load((seeded.survey_flow_sid, "1"))
    with pytest.raises(StudioError):
        await loaders.flow_revision.load((seeded.survey_flow_sid, "999"))


async def _a_revision_and_its_flow(loaders: Loaders, seeded: SeededHandles) -> None:
    await loaders.flow_revision.load((seeded.survey_flow_sid, "1"))
    await loaders.flow.load(seeded.survey_flow_sid)


async def _nothing(loaders: Loaders, seeded: SeededHandles) -> None:
    pass


@pytest.mark.parametrize(
    "read",
    [
        pytest.param(_alias, id="a revision by alias"),
        pytest.param(_active_execution, id="an active execution"),
        pytest.param(_context_alone, id="a context without its ended execution"),
        pytest.param(_a_missing_revision, id="a failed read of what would be immutable"),
        pytest.param(_a_revision_and_its_flow, id="one mutable read beside immutable ones"),
        pytest.param(_nothing, id="nothing read"),
    ],
)
async def test_what_can_change_is_not_immutable(
    emulator: Emulator,
    studio: StudioClient,
    read: Callable[[Loaders, SeededHandles], Awaitable[None]],
) -> None:
    loaders = Loaders(studio)
    await read(loaders, emulator.seeded_handles)
    assert not loaders.reads.only_immutable


async def test_a_loader_keeps_what_the_operation_knows_of_each_key_in_its_own_record() -> None:
    """The cache's decisions read `Loader.answers`: asked, in, failed, primed or
    forgotten, kept through the loader's own methods."""
    release = asyncio.Event()

    async def fetch(key: str) -> str:
        await release.wait()
        if key == "bad":
            raise ValueError(key)
        return key.upper()

    loader: Loader[str, str] = Loader(fetch)
    good, bad = loader.load("good"), loader.load("bad")
    assert not loader.answers["good"].done and loader.answers["good"].value is None
    release.set()
    assert await good == "GOOD"
    with pytest.raises(ValueError):
        await bad
    assert (loader.answers["good"].done, loader.answers["good"].value) == (True, "GOOD")
    assert (loader.answers["bad"].done, loader.answers["bad"].value) == (True, None)
    loader.prime("primed", "P").prime("good", "ignored")
    assert loader.answers["primed"].value == "P" and loader.answers["good"].value == "GOOD"
    loader.clear_where(lambda key: key != "primed")
    assert set(loader.answers) == {"primed"}
    assert await loader.load("primed") == "P"
    loader.clear_all()
    assert loader.answers == {}
