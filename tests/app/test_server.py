"""Slow clients against the server `studio-gateway serve` runs: headers that never
end and bodies that trickle are cut off; whole requests and kept-alive connections
are served as before; past the connection bound, 503; a WebSocket message past the
body limit is refused unread.

The timeouts are set short here; each bound below is the timeout plus a wide margin.
"""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing
from urllib.parse import quote

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as connect_websocket

from gateway import server
from gateway.app import create_app
from gateway.emulator import Emulator
from gateway.emulator import create_app as emulator_app
from tests.support import (
    Served,
    asgi_transport,
    gateway_process,
    gateway_settings,
    serve,
    until_blocking,
)

HEADER_TIMEOUT = 1.0
BODY_GRACE = 1.0
MIN_BODY_RATE = 1000
#: Generous: a loaded 2-core machine may be slow to fire a timer or start a process.
MARGIN = 5.0
QUERY = {"query": "{ flows(first: 1) { nodes { sid } } }"}


@pytest.fixture(scope="module")
def gateway() -> Iterator[Served]:
    emulator = Emulator.seeded(seed=7, flows=2, executions_per_flow=2, steps_per_execution=2)
    with (
        serve(emulator_app(emulator)) as upstream,
        gateway_process(
            upstream,
            STUDIO_GATEWAY_HEADER_TIMEOUT=str(HEADER_TIMEOUT),
            STUDIO_GATEWAY_BODY_GRACE=str(BODY_GRACE),
            STUDIO_GATEWAY_MIN_BODY_RATE=str(MIN_BODY_RATE),
        ) as served,
    ):
        yield served


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=HEADER_TIMEOUT + MARGIN)


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server writes until it closes (a socket timeout fails the test)."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def read_response(sock: socket.socket) -> bytes:
    """One response with a Content-Length body, leaving the connection open."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        assert chunk, f"closed mid-response: {received!r}"
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def post(body: bytes, *, length: int | None = None) -> bytes:
    return (
        b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body) if length is None else length).encode() + b"\r\n\r\n"
    ) + body


def test_connections_whose_headers_never_end_are_closed_after_the_timeout(
    gateway: Served,
) -> None:
    # What the review sent: a request line and one header, then nothing.
    with ExitStack() as stack:
        socks = [stack.enter_context(closing(connect(gateway.url))) for _ in range(20)]
        started = time.monotonic()
        for sock in socks:
            sock.sendall(b"POST /graphql HTTP/1.1\r\nHost: x\r\n")
        answers = [read_until_closed(sock) for sock in socks]
    elapsed = time.monotonic() - started
    assert all(a.startswith(b"HTTP/1.1 408 ") for a in answers), answers[0]
    assert b"request headers not complete" in answers[0]
    assert HEADER_TIMEOUT * 0.5 < elapsed < HEADER_TIMEOUT + MARGIN


def test_a_connection_that_sends_nothing_is_closed_after_the_timeout(gateway: Served) -> None:
    with closing(connect(gateway.url)) as sock:
        started = time.monotonic()
        assert read_until_closed(sock) == b""
    assert HEADER_TIMEOUT * 0.5 < time.monotonic() - started < HEADER_TIMEOUT + MARGIN


def test_headers_sent_slowly_but_in_time_are_served(gateway: Served) -> None:
    request = post(json.dumps(QUERY).encode())
    head, body = request.split(b"\r\n\r\n")
    with closing(connect(gateway.url)) as sock:
        for line in head.split(b"\r\n"):
            sock.sendall(line + b"\r\n")
            time.sleep(HEADER_TIMEOUT / 10)
        sock.sendall(b"\r\n" + body)
        response = read_response(sock)
    assert response.startswith(b"HTTP/1.1 200 ")


def test_a_kept_alive_connection_serves_again_after_idling_past_the_header_timeout(
    gateway: Served,
) -> None:
    # Idle between requests is uvicorn's keep-alive timeout (5 s), not the header timeout.
    request = post(json.dumps(QUERY).encode())
    with closing(connect(gateway.url)) as sock:
        sock.sendall(request)
        first = read_response(sock)
        # Idle until a connection opened after this one's answer, sending nothing, has
        # been closed by its header timeout: this one has idled past it too.
        with closing(connect(gateway.url)) as silent:
            assert read_until_closed(silent) == b""
        sock.sendall(request)
        second = read_response(sock)
    assert first.startswith(b"HTTP/1.1 200 ") and second.startswith(b"HTTP/1.1 200 ")
    assert first.partition(b"\r\n\r\n")[2] == second.partition(b"\r\n\r\n")[2]


def test_the_next_request_on_a_kept_alive_connection_has_the_header_timeout_too(
    gateway: Served,
) -> None:
    with closing(connect(gateway.url)) as sock:
        sock.sendall(post(json.dumps(QUERY).encode()))
        assert read_response(sock).startswith(b"HTTP/1.1 200 ")
        sock.sendall(b"POST /graphql HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        assert read_until_closed(sock).startswith(b"HTTP/1.1 408 ")
    assert time.monotonic() - started < HEADER_TIMEOUT + MARGIN


def test_a_trickled_body_is_cut_off(gateway: Served) -> None:
    with closing(connect(gateway.url)) as sock:
        sock.sendall(post(b"", length=5000))
        started = time.monotonic()
        closed = False
        while not closed and time.monotonic() - started < BODY_GRACE + MARGIN:
            try:
                sock.sendall(b" ")  # 5 bytes a second, far below the minimum rate
            except OSError:  # reset: the server has closed
                closed = True
                break
            readable, _, _ = select.select([sock], [], [], 0.2)
            if readable:
                try:
                    closed = sock.recv(65536) == b""
                except OSError:
                    closed = True
    assert closed
    assert time.monotonic() - started > BODY_GRACE * 0.5


def test_a_body_sent_in_pieces_above_the_minimum_rate_is_served(gateway: Served) -> None:
    # About 4,000 bytes a second for 1.5 s: past the grace, and well above 1,000 bytes/s.
    body = json.dumps(QUERY).encode() + b" " * 6000
    pieces = [body[i : i + 400] for i in range(0, len(body), 400)]
    with closing(connect(gateway.url)) as sock:
        sock.sendall(post(b"", length=len(body)))
        for piece in pieces:
            sock.sendall(piece)
            time.sleep(0.1)
        response = read_response(sock)
    assert response.startswith(b"HTTP/1.1 200 ")
    assert json.loads(response.partition(b"\r\n\r\n")[2])["data"]["flows"]["nodes"]


def test_past_the_connection_bound_a_request_is_503_but_never_a_probe(
    emulator: Emulator,
) -> None:
    settings = gateway_settings(environment="production", max_connections=3, header_timeout=60)
    app = create_app(settings, transport=asgi_transport(emulator))
    request = f"/graphql?query={quote('{ __typename }')}"
    with serve(app, **server.options(settings)) as url:
        with ExitStack() as stack:
            for _ in range(3):
                stack.enter_context(closing(connect(url)))
            # Once the server has taken the silent connections in, a request is refused...
            until_blocking(lambda: httpx.get(url + request).status_code == 503)
            # ...but an orchestrator's probes, or a scrape, never are.
            probes = [httpx.get(url + path) for path in ("/healthz", "/readyz", "/metrics")]
        # And once they are gone, requests are served again.
        until_blocking(lambda: httpx.get(url + request).status_code == 200)
    assert [p.status_code for p in probes] == [200, 200, 200]


def test_a_websocket_message_over_the_body_limit_is_refused_before_the_app_reads_it(
    emulator: Emulator,
) -> None:
    settings = gateway_settings(max_body_bytes=4096)
    app = create_app(settings, transport=asgi_transport(emulator))
    with (
        serve(app, **server.options(settings)) as url,
        connect_websocket(
            url.replace("http", "ws", 1) + "/graphql", subprotocols=["graphql-transport-ws"]
        ) as websocket,
    ):
        websocket.send(json.dumps({"type": "connection_init", "payload": {"pad": "x" * 8192}}))
        with pytest.raises(ConnectionClosed) as closed:
            websocket.recv(timeout=MARGIN)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    # uvicorn's refusal (ws_max_size), not the app's after receiving it whole.
    assert not closed.value.rcvd.reason.startswith("a message may be at most")
