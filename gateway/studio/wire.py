"""The upstream's sockets: aiohttp's connection pool behind httpx's interface.

The `Transport` speaks httpx (requests, auth, streamed responses, the errors
its retry policy reads); this is the `httpx.AsyncBaseTransport` under it for
real sockets. httpx's own pool (httpcore and h11, pure Python) cost about
1.3 ms of CPU per call with 20 calls in flight, as many as a page of
executions with their steps sends at once; aiohttp's, with its C parser, about
0.3 ms (`bench/mesh.py`'s Q1 waits on exactly that second round).

Errors are mapped to httpx's so the retry policy stays exact: only a failure
that proves the request never left (no connection could be made, or none came
free in time) becomes `ConnectError` or `ConnectTimeout`; everything after the
request may have been written (a reset, a disconnect, a truncated body, a read
timeout) is a read or protocol error, which a POST is never retried on.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Final

import aiohttp
import httpx
from yarl import URL

#: Request bodies above this are handed to aiohttp as a stream (its own threshold).
_LARGE_BODY: Final = 2**20

#: aiohttp's error → httpx's, most specific first (the first match wins).
_ERRORS: Final[tuple[tuple[type[BaseException], type[httpx.TransportError]], ...]] = (
    # Could not connect, or waited for a pooled connection too long: nothing was sent.
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    # The request may have reached Twilio.
    (aiohttp.SocketTimeoutError, httpx.ReadTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError, httpx.ReadError),
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.ClientError, httpx.ReadError),
)


@contextmanager
def _mapped() -> Iterator[None]:
    try:
        yield
    except aiohttp.ClientError as exc:
        for source, target in _ERRORS:
            if isinstance(exc, source):
                # The class name only: aiohttp's messages name hosts and ports.
                raise target(type(exc).__name__) from exc
        raise  # pragma: no cover - ClientError is the last row


def _payload(content: bytes) -> bytes | io.BytesIO | None:
    # aiohttp warns that a large `bytes` body could hold the loop; a stream is sent in parts.
    if len(content) > _LARGE_BODY:
        return io.BytesIO(content)
    return content or None


class _Body(httpx.AsyncByteStream):
    """A response body streamed from aiohttp; closing it frees the connection."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _mapped():
            async for chunk in self._response.content.iter_any():
                yield chunk

    async def aclose(self) -> None:
        # A body read to its end returns the connection to the pool; one cut
        # short (over the size cap, or failed) closes it.
        if self._response.content.at_eof():
            self._response.release()
        else:
            self._response.close()


class _Sending:
    """One request's write-and-answer bound, started when it has a connection."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.bound: asyncio.Timeout | None = None

    def connected(self) -> None:
        if self.bound is not None and self.seconds is not None:
            self.bound.reschedule(asyncio.get_running_loop().time() + self.seconds)


def _sum(*seconds: float | None) -> float | None:
    return None if any(s is None for s in seconds) else sum(s for s in seconds if s is not None)


async def _on_connection(
    session: aiohttp.ClientSession, context: SimpleNamespace, params: object
) -> None:
    sending = context.trace_request_ctx
    if isinstance(sending, _Sending):
        sending.connected()


def _tracing() -> aiohttp.TraceConfig:
    tracing = aiohttp.TraceConfig()
    tracing.on_connection_create_end.append(_on_connection)
    tracing.on_connection_reuseconn.append(_on_connection)
    return tracing


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Sends httpx requests over one aiohttp session with a bounded keep-alive pool.

    The session is made on first use, in the running event loop (aiohttp binds
    one to its loop).
    """

    def __init__(self, limits: httpx.Limits) -> None:
        self._limits = limits
        self._session: aiohttp.ClientSession | None = None

    def _current(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._limits.max_connections or 0,
                keepalive_timeout=self._limits.keepalive_expiry or 15.0,
                ssl=httpx.create_ssl_context(),
            )
            # No cookies, no auto headers, no decompression: httpx does each.
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
                trace_configs=[_tracing()],
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {})
        session = self._current()
        # aiohttp bounds connecting and each read, not writing the request: a
        # peer that stops reading would hold the call to its deadline. Once a
        # connection is had, the request must be written and answered within
        # httpx's write and read timeouts together.
        sending = _Sending(_sum(timeout.get("write"), timeout.get("read")))
        try:
            async with asyncio.timeout(None) as sending.bound:
                with _mapped():
                    response = await session.request(
                        request.method,
                        URL(str(request.url), encoded=True),
                        headers=request.headers.multi_items(),
                        data=_payload(request.content),
                        allow_redirects=False,
                        timeout=aiohttp.ClientTimeout(
                            total=None,
                            connect=timeout.get("pool"),
                            sock_connect=timeout.get("connect"),
                            sock_read=timeout.get("read"),
                        ),
                        trace_request_ctx=sending,
                    )
        except TimeoutError:
            if sending.bound is None or not sending.bound.expired():
                raise  # a deadline of the caller's
            raise httpx.WriteTimeout("the request was not written and answered in time") from None
        return httpx.Response(
            response.status,
            headers=response.raw_headers,
            stream=_Body(response),
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
