"""Compress answers by `Accept-Encoding`: brotli, zstd or gzip.

An answer is compressed when it is one body of at least `min_bytes`, of a
textual type, not already encoded, and the client accepts one of our codings
(weights honoured: `gzip;q=0` is never gzip, `identity` named above every
coding is none). Streamed answers (`multipart/mixed` incremental delivery,
`text/event-stream`, any body sent in parts) pass untouched: each part must
reach the client when it is sent. Every answer this could have changed says
`Vary: Accept-Encoding`.

Compression is deterministic (gzip without a timestamp), so the same answer
compresses to the same bytes and an `ETag` over them holds.

A body of at least `thread_bytes` is compressed in a worker thread, a few at
a time (a capacity limiter), as Starlette runs blocking work: a megabyte of
JSON takes milliseconds to compress, and on the event loop every other
request would wait for it. Smaller bodies are compressed in place, where the
hop to a thread would cost more than it saves. The coders release the GIL.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable, Mapping
from typing import Final

import anyio
import anyio.to_thread
import brotli
import zstandard
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.http.negotiation import add_vary, choose_encoding

__all__ = ["CODINGS", "COMPRESSING_THREADS", "THREAD_BYTES", "Coder", "Compression"]

Coder = Callable[[bytes], bytes]

_zstd = threading.local()


def _zstd_compress(body: bytes) -> bytes:
    # A ZstdCompressor must not be used by two threads at once: one per thread.
    compressor = getattr(_zstd, "compressor", None)
    if compressor is None:
        compressor = _zstd.compressor = zstandard.ZstdCompressor(level=3)
    result: bytes = compressor.compress(body)
    return result


# Levels that cost about as much CPU as gzip's default and compress better.
_CODERS: Final[dict[str, Coder]] = {
    "br": lambda body: brotli.compress(body, quality=4),
    "zstd": _zstd_compress,
    "gzip": lambda body: gzip.compress(body, compresslevel=6, mtime=0),
}
#: Our codings, the preferred first (for a client that weighs several alike).
CODINGS: Final = tuple(_CODERS)
#: Bodies at least this big are compressed in a worker thread (64 KiB: about a
#: millisecond of brotli on the loop, against a tenth of that for the hop).
THREAD_BYTES: Final = 64 * 1024
#: Worker threads compressing at once, per process: more would only share the cores.
COMPRESSING_THREADS: Final = 4

_STREAMED: Final = ("multipart/", "text/event-stream")
_TEXTUAL: Final = ("text/", "application/json", "application/javascript", "application/xml")
_NO_BODY: Final = frozenset({204, 304})


class Compression:
    """ASGI middleware compressing whole answers of at least `min_bytes` (0: never),
    those of at least `thread_bytes` in a worker thread. `coders` (by coding, the
    preferred first) replaces ours: a test's, to watch where they run."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        min_bytes: int,
        thread_bytes: int = THREAD_BYTES,
        coders: Mapping[str, Coder] | None = None,
    ) -> None:
        self.app, self.min_bytes, self.thread_bytes = app, min_bytes, thread_bytes
        self.coders: Mapping[str, Coder] = dict(coders) if coders is not None else _CODERS
        self._codings = tuple(self.coders)
        self._threads = anyio.CapacityLimiter(COMPRESSING_THREADS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.min_bytes or scope["method"] == "HEAD":
            await self.app(scope, receive, send)
            return
        coding = choose_encoding(Headers(scope=scope).get("accept-encoding"), self._codings)
        start: Message | None = None

        async def compressing_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                if _compressible(message):
                    start = message  # held until the body shows whether to compress
                    return
                await send(message)
            elif start is not None and message["type"] == "http.response.body":
                held, start = start, None
                body = message.get("body", b"")
                if message.get("more_body") or len(body) < self.min_bytes:
                    await send(held)  # streamed, or too small to be worth it
                    await send(message)
                    return
                headers = MutableHeaders(raw=list(held["headers"]))
                add_vary(headers, "Accept-Encoding")
                if coding is not None:
                    body = await self._compress(self.coders[coding], body)
                    headers["content-encoding"] = coding
                    headers["content-length"] = str(len(body))
                await send({**held, "headers": headers.raw})
                await send({**message, "body": body})
            else:
                await send(message)

        await self.app(scope, receive, compressing_send)

    async def _compress(self, coder: Coder, body: bytes) -> bytes:
        if len(body) < self.thread_bytes:
            return coder(body)
        return await anyio.to_thread.run_sync(coder, body, limiter=self._threads)


def _compressible(start: Message) -> bool:
    if start["status"] in _NO_BODY:
        return False
    headers = Headers(raw=start["headers"])
    if "content-encoding" in headers:
        return False  # never compress twice
    media = headers.get("content-type", "").split(";")[0].strip().lower()
    if media.startswith(_STREAMED):
        return False
    return media.startswith(_TEXTUAL) or media.endswith("+json")
