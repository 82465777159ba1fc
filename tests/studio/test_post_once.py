"""A POST that may have reached Twilio is never sent again, for every POST operation.

Twilio may have carried out a POST whose answer never came: an execution
started, a flow revised. Retrying it could start a second execution for the
same contact. Three ways an answer is lost after the request left are covered
for each POST: the read times out, the connection breaks after the request was
processed, and the write times out while the request is still being sent (a
server that stops reading: Twilio never saw a whole request, but the gateway
cannot know how much it saw). A create that lost its answer is then looked
for in the flow's executions (`gateway.studio.outcome`), never sent again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from gateway.emulator import Emulator
from gateway.studio import (
    ClientConfig,
    Credentials,
    Reason,
    RetryPolicy,
    StudioClient,
    StudioError,
    Timeouts,
    Transport,
)
from tests.support import two_widget_flow

#: Retries on, quick: a POST that is wrongly retried shows as a second request.
RETRY = RetryPolicy(max_attempts=3, backoff=0.01, max_backoff=0.02)


@dataclass(frozen=True)
class Post:
    route: str
    call: Callable[[StudioClient, str, str], Awaitable[object]]
    #: Whether the form can be made large enough to fill a socket's buffers.
    large: bool


def _big(size: int) -> dict[str, object]:
    definition = two_widget_flow()
    definition["description"] = "x" * size
    return definition


POSTS: dict[str, Post] = {
    "create_flow": Post(
        "POST /v2/Flows",
        lambda s, flow, execution: s.create_flow("Once", "draft", _big(_size)),
        large=True,
    ),
    "update_flow": Post(
        "POST /v2/Flows/{Sid}",
        lambda s, flow, execution: s.update_flow(flow, "draft", definition=_big(_size)),
        large=True,
    ),
    "validate_flow": Post(
        "POST /v2/Flows/Validate",
        lambda s, flow, execution: s.validate_flow("Once", "draft", _big(_size)),
        large=True,
    ),
    "update_test_users": Post(
        "POST /v2/Flows/{Sid}/TestUsers",
        lambda s, flow, execution: s.update_test_users(flow, ["client:" + "a" * _size]),
        large=True,
    ),
    "create_execution": Post(
        "POST /v2/Flows/{FlowSid}/Executions",
        lambda s, flow, execution: s.create_execution(
            flow, "+15005550199", "+15005550001", {"note": "y" * _size}
        ),
        large=True,
    ),
    "update_execution": Post(
        "POST /v2/Flows/{FlowSid}/Executions/{Sid}",
        lambda s, flow, execution: s.update_execution(flow, execution),
        large=False,
    ),
}
#: Bytes of padding in a form; small for the emulator, large to stall a write.
_size = 10


def _active(emulator: Emulator) -> tuple[str, str]:
    """A published flow with an active execution (what update_execution ends)."""
    account = emulator.account(emulator.account_sid)
    for flow_sid, flow in account.flows.items():
        for execution_sid, execution in flow.executions.items():
            if execution.status == "active":
                return flow_sid, execution_sid
    raise AssertionError("the seeded account has no active execution")


async def failure(
    post: Post, client: StudioClient, flow_sid: str, execution_sid: str
) -> StudioError | None:
    """The error the POST failed with; None when it answered after all."""
    try:
        await post.call(client, flow_sid, execution_sid)
    except StudioError as error:
        return error
    return None


def assert_lost_answer(name: str, error: StudioError | None) -> None:
    if name == "create_execution":
        # The look at the flow's executions found the one it started.
        assert error is None
    else:
        assert error is not None and error.outcome_unknown
        assert error.reason in (Reason.TIMEOUT, Reason.NETWORK)


def _client(base_url: str, credentials: Credentials, read: float = 10.0) -> StudioClient:
    config = ClientConfig(
        base_url=base_url,
        retry=RETRY,
        timeouts=Timeouts(connect=2.0, read=read, deadline=10.0),
    )
    return StudioClient(Transport(config), credentials)


@pytest.mark.parametrize("name", sorted(POSTS))
async def test_a_post_whose_answer_times_out_is_sent_once(
    name: str, emulator: Emulator, emulator_url: str, credentials: Credentials
) -> None:
    post = POSTS[name]
    flow_sid, execution_sid = _active(emulator)
    emulator.faults.hang_seconds = 5.0
    emulator.faults.enqueue("hang", method="POST", processed=True)
    client = _client(emulator_url, credentials, read=0.3)
    try:
        error = await failure(post, client, flow_sid, execution_sid)
    finally:
        await client.aclose()

    assert_lost_answer(name, error)
    assert emulator.requests[post.route] == 1


@pytest.mark.parametrize("name", sorted(POSTS))
async def test_a_post_whose_connection_breaks_after_processing_is_sent_once(
    name: str, emulator: Emulator, emulator_url: str, credentials: Credentials
) -> None:
    post = POSTS[name]
    flow_sid, execution_sid = _active(emulator)
    emulator.faults.enqueue("drop", method="POST", processed=True)
    client = _client(emulator_url, credentials)
    try:
        error = await failure(post, client, flow_sid, execution_sid)
    finally:
        await client.aclose()

    assert_lost_answer(name, error)
    assert error is None or error.reason is Reason.NETWORK
    assert emulator.requests[post.route] == 1


@dataclass
class Silent:
    """A server that reads each request's first line and nothing more: a write to it
    stalls, and it can tell a POST from the GETs that look for what it did."""

    url: str
    connections: int = 0
    requests: list[str] = field(default_factory=list)

    @property
    def posts(self) -> int:
        return sum(1 for line in self.requests if line.startswith("POST "))


@pytest.fixture
async def silent() -> AsyncIterator[Silent]:
    held: list[asyncio.StreamWriter] = []
    state = Silent(url="")

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.connections += 1
        held.append(writer)
        state.requests.append((await reader.readline()).decode("latin-1"))

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    state.url = f"http://127.0.0.1:{port}"
    try:
        yield state
    finally:
        for writer in held:
            writer.close()
        server.close()


@pytest.mark.parametrize("name", sorted(n for n, p in POSTS.items() if p.large))
async def test_a_post_whose_write_times_out_is_sent_once(
    name: str, silent: Silent, credentials: Credentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 16 MB cannot fit in the loopback socket's buffers, so the write stalls.
    monkeypatch.setattr(f"{__name__}._size", 16 * 1024 * 1024)
    config = ClientConfig(
        base_url=silent.url,
        retry=RETRY,
        # A generous deadline: encoding 16 MB is slow on a loaded machine.
        timeouts=Timeouts(connect=5.0, read=0.5, deadline=60.0),
        max_response_bytes=1024,
    )
    client = StudioClient(Transport(config), credentials)
    flow_sid, execution_sid = "FW" + "1" * 32, "FN" + "2" * 32
    try:
        with pytest.raises(StudioError) as caught:
            await POSTS[name].call(client, flow_sid, execution_sid)
    finally:
        await client.aclose()

    assert caught.value.reason in (Reason.TIMEOUT, Reason.NETWORK)
    assert caught.value.outcome_unknown  # a create: the look could not settle it either
    assert silent.posts == 1, caught.value
