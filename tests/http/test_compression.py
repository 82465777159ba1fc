"""Compression over real sockets: by Accept-Encoding and its weights, above a size,
never for streams, never twice."""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import brotli
import httpx
import pytest
import zstandard
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from gateway.app import create_app
from gateway.emulator import Emulator
from gateway.http.compression import Compression
from tests.support import SLACK, asgi_transport, gateway_settings, serve, until

BIG = "{ flows(first: 50) { nodes { sid friendlyName definition } } }"
SMALL = "{ __typename }"
DECODERS = {
    "br": brotli.decompress,
    "zstd": lambda body: zstandard.ZstdDecompressor().decompressobj().decompress(body),
    "gzip": gzip.decompress,
}


@pytest.fixture
def gateway_url(emulator: Emulator) -> Iterator[str]:
    app = create_app(gateway_settings(), transport=asgi_transport(emulator))
    with serve(app) as url:
        yield url


async def ask(url: str, document: str, accept_encoding: str | None) -> tuple[httpx.Response, bytes]:
    """POST a query; the response and its body exactly as it came over the wire."""
    headers = {"Accept-Encoding": accept_encoding} if accept_encoding is not None else {}
    async with (
        httpx.AsyncClient(base_url=url) as http,
        http.stream("POST", "/graphql", json={"query": document}, headers=headers) as response,
    ):
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    # httpx sends its own Accept-Encoding unless told otherwise.
    return response, raw


def decoded(response: httpx.Response, raw: bytes) -> Any:
    coding = response.headers.get("content-encoding")
    return json.loads(DECODERS[coding](raw) if coding else raw)


@pytest.mark.parametrize("coding", ["br", "zstd", "gzip"])
async def test_a_big_answer_is_compressed_by_each_coding_and_decodes_to_the_same_json(
    gateway_url: str, coding: str
) -> None:
    plain, plain_raw = await ask(gateway_url, BIG, "identity")
    packed, packed_raw = await ask(gateway_url, BIG, coding)

    assert "content-encoding" not in plain.headers
    assert len(plain_raw) >= 1024
    assert packed.headers["content-encoding"] == coding
    assert int(packed.headers["content-length"]) == len(packed_raw) < len(plain_raw) / 3
    assert decoded(packed, packed_raw) == json.loads(plain_raw)
    assert decoded(packed, packed_raw)["data"]["flows"]["nodes"][0]["definition"]
    for response in (plain, packed):
        assert "accept-encoding" in response.headers["vary"].lower()


@pytest.mark.parametrize(
    ("accept_encoding", "coding"),
    [
        ("gzip, deflate, br, zstd", "br"),
        ("gzip, deflate", "gzip"),
        ("gzip;q=1.0, br;q=0.5", "gzip"),
        ("br;q=0, gzip", "gzip"),
        ("*", "br"),
        ("*;q=0.1, br;q=0", "zstd"),
        ("x-gzip", "gzip"),
        ("identity", None),
        ("gzip;q=0", None),
        ("*;q=0, identity", None),
        ("identity;q=1, gzip;q=0.5", None),
        ("deflate", None),
        ("", None),
    ],
)
async def test_the_coding_follows_the_clients_weights(
    gateway_url: str, accept_encoding: str, coding: str | None
) -> None:
    response, raw = await ask(gateway_url, BIG, accept_encoding)
    assert response.headers.get("content-encoding") == coding
    assert decoded(response, raw)["data"]["flows"]


async def test_a_small_answer_is_sent_as_it_is(gateway_url: str) -> None:
    response, raw = await ask(gateway_url, SMALL, "br, gzip")
    assert "content-encoding" not in response.headers
    assert json.loads(raw)["data"] == {"__typename": "Query"}


async def test_the_threshold_is_a_setting_and_zero_turns_compression_off(
    emulator: Emulator,
) -> None:
    for min_bytes, coding in ((16, "gzip"), (0, None)):
        app = create_app(
            gateway_settings(compress_min_bytes=min_bytes), transport=asgi_transport(emulator)
        )
        with serve(app) as url:
            response, _ = await ask(url, SMALL, "gzip")
        assert response.headers.get("content-encoding") == coding


# -- what is never compressed, shown on a small app behind the same middleware ------

PART = b"x" * 4096


async def _parts() -> AsyncIterator[bytes]:
    for _ in range(3):
        yield b'\r\n---\r\nContent-Type: application/json\r\n\r\n{"data": "' + PART + b'"}'
    yield b"\r\n-----\r\n"


async def multipart(request: Request) -> Response:
    # What incremental delivery (@defer) sends: parts that must reach the client as sent.
    return StreamingResponse(_parts(), media_type='multipart/mixed; boundary="-"')


async def events(request: Request) -> Response:
    return StreamingResponse(_parts(), media_type="text/event-stream")


async def multipart_whole(request: Request) -> Response:
    return Response(PART, media_type='multipart/mixed; boundary="-"')


async def encoded(request: Request) -> Response:
    body = gzip.compress(b'{"data": "' + PART + b'"}')
    return Response(body, media_type="application/json", headers={"Content-Encoding": "gzip"})


@pytest.fixture
def streams_url() -> Iterator[str]:
    app = Starlette(
        routes=[
            Route("/multipart", multipart),
            Route("/events", events),
            Route("/multipart-whole", multipart_whole),
            Route("/encoded", encoded),
        ]
    )
    with serve(Compression(app, min_bytes=1024)) as url:
        yield url


@pytest.mark.parametrize("path", ["/multipart", "/events", "/multipart-whole"])
async def test_streamed_and_multipart_answers_pass_untouched(streams_url: str, path: str) -> None:
    async with (
        httpx.AsyncClient(base_url=streams_url) as http,
        http.stream("GET", path, headers={"Accept-Encoding": "br, gzip"}) as response,
    ):
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    assert "content-encoding" not in response.headers
    assert PART in raw


async def test_an_answer_already_encoded_is_not_compressed_again(streams_url: str) -> None:
    async with httpx.AsyncClient(base_url=streams_url) as http:
        response = await http.get("/encoded", headers={"Accept-Encoding": "br, gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.json()["data"] == PART.decode()  # httpx undid exactly one gzip


# -- big answers are compressed off the event loop -------------------------------------

BIG_BODY = b'{"data": "' + b"studio " * 40_000 + b'"}'


class HeldGzip:
    """gzip that notes the thread it runs on, and (when told to) holds until released."""

    def __init__(self, *, hold: bool) -> None:
        self.threads: list[int] = []
        self.started = threading.Event()
        self.released = threading.Event()
        if not hold:
            self.released.set()

    def __call__(self, body: bytes) -> bytes:
        self.threads.append(threading.get_ident())
        self.started.set()
        assert self.released.wait(SLACK * 4), "never released"
        return gzip.compress(body, mtime=0)


async def big_answer(request: Request) -> Response:
    return Response(BIG_BODY, media_type="application/json")


async def loop_thread(request: Request) -> Response:
    return JSONResponse({"thread": threading.get_ident()})


def compressing(coder: HeldGzip, thread_bytes: int) -> Compression:
    app = Starlette(routes=[Route("/big", big_answer), Route("/thread", loop_thread)])
    return Compression(app, min_bytes=1024, thread_bytes=thread_bytes, coders={"gzip": coder})


async def test_while_a_big_answer_is_compressed_a_small_request_is_answered() -> None:
    coder = HeldGzip(hold=True)
    with serve(compressing(coder, thread_bytes=64 * 1024)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=SLACK * 4) as http:
            try:
                big = asyncio.ensure_future(http.get("/big", headers={"Accept-Encoding": "gzip"}))
                await until(coder.started.is_set)  # its compression runs, and is held
                # Were it compressing on the event loop, nothing else would be answered.
                async with asyncio.timeout(SLACK):
                    small = await http.get("/thread", headers={"Accept-Encoding": "identity"})
                assert not big.done()
            finally:
                coder.released.set()
            answer = await big
    assert answer.headers["content-encoding"] == "gzip"
    assert answer.content == BIG_BODY  # httpx undid the gzip
    assert coder.threads != [small.json()["thread"]]  # not the event loop's thread


async def test_a_body_under_the_thread_size_is_compressed_in_place() -> None:
    coder = HeldGzip(hold=False)
    with serve(compressing(coder, thread_bytes=len(BIG_BODY) + 1)) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            answer = await http.get("/big", headers={"Accept-Encoding": "gzip"})
            loop = (await http.get("/thread")).json()["thread"]
    assert answer.headers["content-encoding"] == "gzip" and answer.content == BIG_BODY
    assert coder.threads == [loop]
